"""Hostile request bodies: JSON nested to any depth is a clear 400/422, never a 500.

Issue #17 (6): ``[[[[...`` a hundred thousand deep made ``auth/issue``, ``auth/refresh``
and POST/PUT ``notebooks`` answer 500 with a traceback (RecursionError in the parser).
"""

from __future__ import annotations

import json

import pytest

from kiosk.app import create_app
from tests.sharing_helpers import make_notebook

DEPTHS = [150, 5_000, 10_000]  # the largest stays under the 64 KiB auth body limit


def _deep(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


async def _token(client) -> str:
    resp = await client.post("/api/v1/auth/issue")
    return (await resp.json())["token"]


async def _send(client, method: str, path: str, body: str, token: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    resp = await client.request(method, path, data=body.encode(), headers=headers)
    text = await resp.text()
    return resp.status, text


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", DEPTHS)
async def test_deep_json_is_a_client_error_everywhere(client, depth, kind):
    token = await _token(client)
    nb = make_notebook()
    created = await client.post("/api/v1/notebooks", json={"notebook": nb},
                                headers={"Authorization": f"Bearer {token}"})
    assert created.status == 201
    share_id = (await created.json())["notebook"]["id"]
    deep = _deep(depth, kind)
    deep_notebook = dict(nb, metadata={"deep": json.loads(_deep(120, kind))})
    cases = [
        ("POST", "/api/v1/auth/issue", deep),
        ("POST", "/api/v1/auth/refresh", deep),
        ("POST", "/api/v1/notebooks", deep),
        ("POST", "/api/v1/notebooks", '{"notebook": ' + deep + "}"),
        ("POST", "/api/v1/notebooks", json.dumps({"notebook": deep_notebook})),
        ("PUT", f"/api/v1/notebooks/{share_id}", deep),
        ("PUT", f"/api/v1/notebooks/{share_id}", json.dumps(deep_notebook)),
    ]
    for method, path, body in cases:
        status, text = await _send(client, method, path, body, token)
        assert status in (400, 422), (method, path, status, text[:300])
        error = json.loads(text)
        assert error["status"] == status and error["message"], text[:300]
    # The share is untouched by the rejected updates.
    got = await client.get(f"/api/v1/notebooks/{share_id}",
                           headers={"Authorization": f"Bearer {token}"})
    assert got.status == 200
    assert (await got.json())["content"]["metadata"] == nb["metadata"]
