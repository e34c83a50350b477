"""The OpenAPI document matches the app's routes and the answers it really gives."""

from __future__ import annotations

import io
import json
import re
import uuid

import jsonschema
import pytest

from kiosk.app import create_app
from kiosk.sharing.openapi import PREFIX
from tests.sharing_helpers import make_notebook


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


def app_operations(app) -> set[tuple[str, str]]:
    ops = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        # HEAD mirrors GET; OPTIONS is the CORS preflight, not an operation.
        if path and path.startswith(PREFIX + "/") and route.method not in {"HEAD", "OPTIONS"}:
            ops.add((route.method.lower(), path[len(PREFIX):]))
    return ops


async def test_openapi_matches_routes(client):
    resp = await client.get(f"{PREFIX}/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert documented == app_operations(client.app)
    # Path parameters are declared with the names the routes use.
    for path, item in doc["paths"].items():
        for op in item.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path


def validator(doc, name):
    return jsonschema.Draft202012Validator({**doc, "$ref": f"#/components/schemas/{name}"})


def response_schema(doc, path, method, status):
    return doc["paths"][path][method]["responses"][str(status)]["content"][
        "application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


async def test_real_answers_match_schemas(client):
    doc = await (await client.get(f"{PREFIX}/openapi.json")).json()

    async def check(resp, path, method):
        body = await resp.json()
        name = response_schema(doc, path, method, resp.status)
        validator(doc, name).validate(body)
        return body

    json_headers = {"Content-Type": "application/json"}
    tok = await check(await client.post(f"{PREFIX}/auth/issue"), "/auth/issue", "post")
    auth = {**json_headers, "Authorization": f"Bearer {tok['token']}"}
    await check(await client.post(f"{PREFIX}/auth/refresh", headers=json_headers,
                                  data=json.dumps(tok)), "/auth/refresh", "post")
    await check(await client.get(f"{PREFIX}/health"), "/health", "get")
    saved = await check(await client.post(f"{PREFIX}/notebooks", headers=auth,
                                          data=json.dumps({"notebook": make_notebook()})),
                        "/notebooks", "post")
    nid, rid = saved["notebook"]["id"], saved["notebook"]["readable_id"]
    await check(await client.put(f"{PREFIX}/notebooks/{nid}", headers=auth,
                                 data=json.dumps(make_notebook("v2"))),
                "/notebooks/{notebook_id}", "put")
    await check(await client.put(f"{PREFIX}/notebooks/update-by-readable-id/{rid}",
                                 headers=auth, data=json.dumps(make_notebook("v3"))),
                "/notebooks/update-by-readable-id/{readable_id}", "put")
    await check(await client.get(f"{PREFIX}/notebooks/{nid}", headers=auth),
                "/notebooks/{notebook_id}", "get")
    await check(await client.get(f"{PREFIX}/notebooks/get-by-readable-id/{rid}",
                                 headers=auth),
                "/notebooks/get-by-readable-id/{readable_id}", "get")
    # Documented errors are the answers really given.
    errors = [
        (await client.post(f"{PREFIX}/notebooks", headers=auth, data="{"), "/notebooks",
         "post", 400),
        (await client.post(f"{PREFIX}/notebooks", data="{}"), "/notebooks", "post", 401),
        (await client.post(f"{PREFIX}/notebooks", headers=auth,
                           data=json.dumps({"notebook": {}})), "/notebooks", "post", 422),
        (await client.post(f"{PREFIX}/notebooks", headers=auth, data=io.BytesIO(
            json.dumps({"notebook": make_notebook(pad_bytes=11 << 20)}).encode())),
         "/notebooks", "post", 413),
        (await client.get(f"{PREFIX}/notebooks/{uuid.uuid4()}", headers=auth),
         "/notebooks/{notebook_id}", "get", 404),
    ]
    for resp, path, method, status in errors:
        assert resp.status == status
        assert str(status) in doc["paths"][path][method]["responses"]
        await check(resp, path, method)
