"""Contract tests: replay what the Jupyter Everywhere frontend does against /api/v1."""

from __future__ import annotations

import asyncio
import io
import json
import time
from urllib.parse import quote

import jwt
import pytest
from aiohttp import web

from kiosk.app import create_app
from kiosk.sharing.keys import SHARING
from tests.sharing_helpers import check_retrieved, check_saved, make_notebook

API = "/api/v1"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


@pytest.fixture
def client_with(aiohttp_client, make_config):
    """A client of an app whose settings differ (configs are built off the loop)."""
    async def make(**overrides):
        config = await asyncio.to_thread(make_config, **overrides)
        return await aiohttp_client(create_app(config))
    return make


async def issue(client) -> str:
    resp = await client.post(f"{API}/auth/issue", headers=JSON)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"token"}
    return body["token"]


def auth(token: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"Bearer {token}"}


def jbody(obj) -> io.BytesIO:
    """A JSON body (as a file object, so big ones do not warn)."""
    return io.BytesIO(json.dumps(obj).encode())


async def post(client, token, notebook, **extra):
    return await client.post(f"{API}/notebooks", headers=auth(token),
                             data=jbody({"notebook": notebook, **extra}))


async def test_je_frontend_flow(client):
    """issue → POST wrapped → PUT bare → GET by UUID → GET by readable id."""
    token = await issue(client)
    nb = make_notebook("x = 1")
    resp = await post(client, token, nb)
    assert resp.status == 201
    saved = await resp.json()
    check_saved(saved)
    share_id, rid = saved["notebook"]["id"], saved["notebook"]["readable_id"]
    assert isinstance(rid, str) and len(rid) < 40

    nb2 = make_notebook("x = 2")
    nb2["metadata"]["sharedId"] = share_id
    resp = await client.put(f"{API}/notebooks/{share_id}", headers=auth(token),
                            data=json.dumps(nb2))
    assert resp.status == 200
    updated = await resp.json()
    check_saved(updated)
    assert updated["notebook"]["id"] == share_id
    assert updated["notebook"]["readable_id"] == rid

    resp = await client.get(f"{API}/notebooks/{share_id}", headers=auth(token))
    assert resp.status == 200
    got = await resp.json()
    check_retrieved(got)
    assert got["content"] == nb2
    assert (got["id"], got["readable_id"]) == (share_id, rid)

    # The frontend percent-encodes the id; people add spaces, capitals and .ipynb.
    for typed in (rid, rid.upper(), f"  {rid}.ipynb ", f"{rid}.IPYNB"):
        resp = await client.get(
            f"{API}/notebooks/get-by-readable-id/{quote(typed, safe='')}", headers=auth(token))
        assert resp.status == 200, typed
        got = await resp.json()
        check_retrieved(got)
        assert got["id"] == share_id and got["content"] == nb2


async def test_content_kept_exactly_as_sent(client):
    token = await issue(client)
    # Odd but valid formatting, key order and unicode must survive byte for byte.
    raw_nb = ('{"nbformat_minor": 5,  "metadata": {"z": 1, "a": "é😀"}, "nbformat": 4,\n'
              ' "cells": [{"cell_type": "raw", "id": "c1", "metadata": {}, "source": "1.0"}]}')
    body = '{"password": null, "notebook": ' + raw_nb + "}"
    resp = await client.post(f"{API}/notebooks", headers=auth(token), data=body.encode())
    assert resp.status == 201, await resp.text()
    share_id = (await resp.json())["notebook"]["id"]
    share = await client.app[SHARING].store.get(share_id)
    assert share.content == raw_nb
    resp = await client.get(f"{API}/notebooks/{share_id}", headers=auth(token))
    text = await resp.text()
    assert text.endswith('"content": ' + raw_nb + "}")
    # PUT: the bare body is the notebook.
    resp = await client.put(f"{API}/notebooks/{share_id}", headers=auth(token),
                            data=raw_nb.replace("1.0", "2.0").encode())
    assert resp.status == 200
    share = await client.app[SHARING].store.get(share_id)
    assert share.content == raw_nb.replace("1.0", "2.0")
    assert share.version == 2


async def test_update_by_readable_id(client):
    token = await issue(client)
    saved = await (await post(client, token, make_notebook())).json()
    rid = saved["notebook"]["readable_id"]
    resp = await client.put(f"{API}/notebooks/update-by-readable-id/{quote(rid.upper())}",
                            headers=auth(token), data=json.dumps(make_notebook("y = 3")))
    assert resp.status == 200
    check_saved(await resp.json())
    got = await (await client.get(f"{API}/notebooks/{saved['notebook']['id']}",
                                  headers=auth(token))).json()
    assert got["content"]["cells"][1]["source"] == "y = 3"


async def test_too_large_is_413_before_reading(client):
    token = await issue(client)
    big = make_notebook(pad_bytes=10 * 1024 * 1024 + 10)
    resp = await post(client, token, big)
    assert resp.status == 413
    body = await resp.json()
    assert body["status"] == 413 and "MiB" in body["message"]
    resp = await client.put(f"{API}/notebooks/00000000-0000-4000-8000-000000000000",
                            headers=auth(token), data=jbody(big))
    assert resp.status == 413

    # A declared Content-Length over the limit is refused without reading the body:
    # the answer comes while the client has sent only the headers.
    host, port = client.server.host, client.server.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((f"POST {API}/notebooks HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}"
                  "\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
                  ).encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert b" 413 " in status_line
    writer.close()

    # A chunked body is cut off at the limit.
    async def chunks():
        piece = b"x" * (1024 * 1024)
        yield b'{"notebook": {"cells": [], "metadata": {"pad": "'
        for _ in range(12):
            yield piece
        yield b'"}, "nbformat": 4, "nbformat_minor": 5}}'

    resp = await client.post(f"{API}/notebooks", headers=auth(token), data=chunks())
    assert resp.status == 413


async def test_limit_is_configurable(client_with):
    client = await client_with(max_notebook_mib=0.01)
    token = await issue(client)
    assert (await post(client, token, make_notebook(pad_bytes=20_000))).status == 413
    assert (await post(client, token, make_notebook(pad_bytes=1_000))).status == 201


@pytest.mark.parametrize("notebook", [
    {"cells": [], "metadata": {}},                                     # no nbformat
    {"cells": "nope", "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    {"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    {"cells": [], "metadata": {}, "nbformat": 3, "nbformat_minor": 0},
    [1, 2, 3],
])
async def test_invalid_notebook(client, notebook):
    token = await issue(client)
    resp = await post(client, token, notebook)
    assert resp.status == 422
    body = await resp.json()
    assert body["error_code"] and "notebook" in body["message"]
    ok = await (await post(client, token, make_notebook())).json()
    resp = await client.put(f"{API}/notebooks/{ok['notebook']['id']}", headers=auth(token),
                            data=json.dumps(notebook))
    assert resp.status == 400
    assert "notebook" in (await resp.json())["message"]


async def test_not_json(client):
    token = await issue(client)
    resp = await client.post(f"{API}/notebooks", headers=auth(token), data=b"{not json")
    assert resp.status == 400
    assert "JSON" in (await resp.json())["message"]
    resp = await client.post(f"{API}/notebooks", data=b'{"notebook": {}}',
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "text/plain"})
    assert resp.status == 415
    assert "application/json" in (await resp.json())["message"]
    resp = await client.post(f"{API}/notebooks", headers=auth(token), data=b'{"other": 1}')
    assert resp.status == 422
    resp = await client.post(f"{API}/notebooks", headers=auth(token),
                             data=b'{"notebook": {"nbformat": NaN}}')
    assert resp.status == 400
    resp = await client.post(f"{API}/notebooks", headers=auth(token), data=b"\xff\xfe")
    assert resp.status == 400


async def test_another_sessions_put_is_403(client):
    owner, other = await issue(client), await issue(client)
    saved = await (await post(client, owner, make_notebook())).json()
    share_id, rid = saved["notebook"]["id"], saved["notebook"]["readable_id"]
    resp = await client.put(f"{API}/notebooks/{share_id}", headers=auth(other),
                            data=json.dumps(make_notebook("hacked")))
    assert resp.status == 403
    assert (await resp.json())["error_code"] == "forbidden"
    resp = await client.put(f"{API}/notebooks/update-by-readable-id/{rid}",
                            headers=auth(other), data=json.dumps(make_notebook("hacked")))
    assert resp.status == 403
    got = await (await client.get(f"{API}/notebooks/{share_id}", headers=auth(other))).json()
    assert "hacked" not in json.dumps(got)


async def test_password_token_may_update(client):
    owner = await issue(client)
    saved = await (await post(client, owner, make_notebook(), password="s3cret")).json()
    share_id = saved["notebook"]["id"]
    resp = await client.post(f"{API}/auth/issue", headers=JSON,
                             data=json.dumps({"notebookId": share_id, "password": "wrong"}))
    assert resp.status == 401
    resp = await client.post(f"{API}/auth/issue", headers=JSON,
                             data=json.dumps({"notebookId": share_id, "password": "s3cret"}))
    assert resp.status == 200
    scoped = (await resp.json())["token"]
    claims = jwt.decode(scoped, options={"verify_signature": False})
    assert claims["notebook_id"] == share_id
    resp = await client.put(f"{API}/notebooks/{share_id}", headers=auth(scoped),
                            data=json.dumps(make_notebook("by forwarder")))
    assert resp.status == 200
    # The student who shared it can still save.
    resp = await client.put(f"{API}/notebooks/{share_id}", headers=auth(owner),
                            data=json.dumps(make_notebook("by student")))
    assert resp.status == 200
    share = await client.app[SHARING].store.get(share_id)
    assert share.password_hash and "s3cret" not in share.password_hash
    assert share.password_hash.startswith("$2")
    # No password set: nobody can unlock it.
    plain = await (await post(client, owner, make_notebook())).json()
    resp = await client.post(f"{API}/auth/issue", headers=JSON, data=json.dumps(
        {"notebookId": plain["notebook"]["id"], "password": ""}))
    assert resp.status == 401


async def test_tokens(client, config):
    resp = await client.post(f"{API}/notebooks", headers=JSON, data="{}")
    assert resp.status == 401
    token = await issue(client)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) >= {"session_id", "iat", "exp"}
    assert claims["exp"] - claims["iat"] == int(config.token_days * 86400)
    # alg none, a wrong key, an expired token: all 401.
    none_token = jwt.encode({**claims}, key=None, algorithm="none")
    wrong_key = jwt.encode({**claims}, "x" * 32, algorithm="HS256")
    # Issued by a set clock, longer ago than the lifetime (a token stamped by an unset
    # clock, such as now=0, is judged differently: see tests/test_clock.py).
    expired = client.app[SHARING].tokens.issue(now=time.time() - config.token_days * 86400 - 60)
    for bad in (none_token, wrong_key, expired, "garbage"):
        resp = await client.get(f"{API}/notebooks/00000000-0000-4000-8000-000000000000",
                                headers=auth(bad))
        assert resp.status == 401, bad
        assert (await resp.json())["message"]
    # refresh keeps the session
    resp = await client.post(f"{API}/auth/refresh", headers=JSON,
                             data=json.dumps({"token": token}))
    assert resp.status == 200
    new = (await resp.json())["token"]
    assert jwt.decode(new, options={"verify_signature": False})["session_id"] == \
        claims["session_id"]
    resp = await client.post(f"{API}/auth/refresh", headers=JSON,
                             data=json.dumps({"token": expired}))
    assert resp.status == 401


async def test_secrets_are_private_files(client, config):
    for name in ("sharing-signing.key", "admin-secret"):
        path = config.data_path / name
        assert path.stat().st_mode & 0o777 == 0o600


async def test_not_found(client):
    token = await issue(client)
    for path in ("notebooks/00000000-0000-4000-8000-000000000000",
                 "notebooks/get-by-readable-id/no-such-thing-123"):
        resp = await client.get(f"{API}/{path}", headers=auth(token))
        assert resp.status == 404
        assert (await resp.json())["status"] == 404


async def test_domain_id_is_kiosk_name_never_client(client):
    token = await issue(client)
    saved = await (await post(client, token, make_notebook())).json()
    assert saved["notebook"]["domain_id"] == "testkiosk"
    got = await (await client.get(f"{API}/notebooks/{saved['notebook']['id']}",
                                  headers=auth(token))).json()
    assert got["domain_id"] == "testkiosk"
    store = client.app[SHARING].store
    # Nothing resembling the client's address is kept anywhere in the database.
    import sqlite3
    with sqlite3.connect(store.path) as conn:
        dump = "\n".join(conn.iterdump())
    assert "127.0.0.1" not in dump


async def test_rate_limits(client_with):
    client = await client_with(rate_issue_per_minute=5, rate_post_per_minute=3)
    tokens = [await issue(client) for _ in range(5)]
    resp = await client.post(f"{API}/auth/issue", headers=JSON)
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    for _ in range(3):
        assert (await post(client, tokens[0], make_notebook())).status == 201
    resp = await post(client, tokens[1], make_notebook())
    assert resp.status == 429 and resp.headers["Retry-After"]
    assert (await resp.json())["error_code"] == "rate_limited"


async def test_class_of_60_never_limited(client):
    # Defaults: 60 students each issuing and sharing from their own address.
    service = client.app[SHARING]
    for student in range(60):
        service.issue_limiter.hit(f"10.0.0.{student}")
        service.post_limiter.hit(f"10.0.0.{student}")
    tokens = [await issue(client) for _ in range(10)]
    assert len(set(tokens)) == 10


async def test_disk_full_is_507(client_with):
    client = await client_with(min_free_disk_mib=10**12)
    token = await issue(client)
    resp = await post(client, token, make_notebook())
    assert resp.status == 507
    assert (await resp.json())["error_code"] == "insufficient_storage"


async def test_idempotency_key(client):
    token = await issue(client)
    headers = {**auth(token), "Idempotency-Key": "abc-1"}
    body = json.dumps({"notebook": make_notebook()})
    first = await client.post(f"{API}/notebooks", headers=headers, data=body)
    second = await client.post(f"{API}/notebooks", headers=headers, data=body)
    assert first.status == second.status == 201
    assert (await first.json()) == (await second.json())
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert await client.app[SHARING].store.count() == 1
    other = await client.post(f"{API}/notebooks", headers=headers,
                              data=json.dumps({"notebook": make_notebook("other")}))
    assert other.status == 409


async def test_health(client):
    resp = await client.get(f"{API}/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "OK" and body["domain_id"] == "testkiosk"


async def test_service_reaches_app(client):
    assert isinstance(client.app, web.Application)


async def test_cors_preflight_and_headers(client):
    resp = await client.options(f"{API}/notebooks", headers={
        "Origin": "http://other.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    allowed = resp.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert {"GET", "POST", "PUT"} <= set(
        m.strip() for m in resp.headers["Access-Control-Allow-Methods"].split(","))
    resp = await client.post(f"{API}/auth/issue", headers={"Origin": "http://other.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    resp = await client.post(f"{API}/notebooks", headers={"Origin": "http://other.example"})
    assert resp.status == 401 and resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_readable_id_accepted_where_a_uuid_is_expected(client):
    token = await issue(client)
    saved = await (await post(client, token, make_notebook())).json()
    rid = saved["notebook"]["readable_id"]
    resp = await client.get(f"{API}/notebooks/{quote(rid + '.ipynb')}", headers=auth(token))
    assert resp.status == 200
    assert (await resp.json())["id"] == saved["notebook"]["id"]
    resp = await client.put(f"{API}/notebooks/{rid.upper()}", headers=auth(token),
                            data=json.dumps(make_notebook("z = 9")))
    assert resp.status == 200


async def test_idempotent_put(client):
    token = await issue(client)
    saved = await (await post(client, token, make_notebook())).json()
    share_id = saved["notebook"]["id"]
    headers = {**auth(token), "Idempotency-Key": "put-1"}
    body = json.dumps(make_notebook("v2"))
    for _ in range(3):
        resp = await client.put(f"{API}/notebooks/{share_id}", headers=headers, data=body)
        assert resp.status == 200
    assert (await client.app[SHARING].store.get(share_id)).version == 2
