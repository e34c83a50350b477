"""The teacher's share management under /api/admin, behind the admin secret."""

from __future__ import annotations

import json

import pytest

from kiosk.app import create_app
from kiosk.secrets import admin_secret_path
from tests.sharing_helpers import make_notebook

API = "/api/v1"


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


@pytest.fixture
def admin(config):
    def headers():
        secret = admin_secret_path(config.data_path).read_text().strip()
        return {"Authorization": f"Bearer {secret}"}
    return headers


async def share(client, title):
    token = (await (await client.post(f"{API}/auth/issue")).json())["token"]
    resp = await client.post(f"{API}/notebooks",
                             data=json.dumps({"notebook": make_notebook(title=title)}),
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"})
    return (await resp.json())["notebook"]


async def test_admin_requires_secret(client):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        resp = await client.get("/api/admin/shares", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error_code"] == "unauthorized"
    assert (await client.delete("/api/admin/shares/x")).status == 401
    assert (await client.post("/api/admin/shares/clear")).status == 401


async def test_admin_list_search_delete_clear(client, admin):
    a = await share(client, "Fractions")
    b = await share(client, "Turtles")
    resp = await client.get("/api/admin/shares", headers=admin())
    assert resp.status == 200
    body = await resp.json()
    assert body["total"] == 2
    listed = {s["id"]: s for s in body["shares"]}
    assert listed[a["id"]]["name"] == "Fractions"
    assert listed[a["id"]]["view_url"] == f"/s/{a['readable_id']}"
    assert "content" not in listed[a["id"]] and "owner_session" not in listed[a["id"]]

    found = await (await client.get("/api/admin/shares", params={"search": "turt"},
                                    headers=admin())).json()
    assert [s["id"] for s in found["shares"]] == [b["id"]] and found["total"] == 1
    assert (await client.get("/api/admin/shares", params={"limit": "x"},
                             headers=admin())).status == 400

    assert (await client.delete(f"/api/admin/shares/{a['id']}", headers=admin())).status == 204
    assert (await client.delete(f"/api/admin/shares/{a['id']}", headers=admin())).status == 404
    resp = await client.delete(f"/api/admin/shares/{b['readable_id'].upper()}",
                               headers=admin())
    assert resp.status == 204
    await share(client, "Again")
    assert (await client.post("/api/admin/shares/clear", headers=admin())).status == 400
    resp = await client.post("/api/admin/shares/clear", headers=admin(),
                             data=json.dumps({"confirm": True}))
    assert (await resp.json()) == {"deleted": 1}
    assert (await (await client.get("/api/admin/shares", headers=admin())).json())["total"] == 0
    assert (await client.get(f"/s/{a['readable_id']}")).status == 404
