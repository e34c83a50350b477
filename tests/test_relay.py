"""The drive/stdin relay over real sockets, with a test client playing the notebook page."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from kiosk.app import create_app

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def client(aiohttp_client, make_config):
    return await aiohttp_client(create_app(make_config(relay_timeout=1.0)))


async def fake_page(client, context: str, answer, seen: list):
    """Connect as a page and answer every relayed request with answer(body)."""
    ws = await client.ws_connect(f"/api/relay/ws?browsingContextId={context}")

    async def loop():
        async for msg in ws:
            message = json.loads(msg.data)
            seen.append(message)
            reply = answer(message["body"])
            if reply is not None:
                await ws.send_json({"id": message["id"], "response": reply})

    return ws, asyncio.create_task(loop())


async def test_drive_request_reaches_its_own_page(client):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    seen_a: list = []
    seen_b: list = []
    ws_a, task_a = await fake_page(client, a, lambda body: ["a.csv", body["data"]["path"]], seen_a)
    ws_b, task_b = await fake_page(client, b, lambda body: ["b.csv"], seen_b)
    body = {"data": {"method": "readdir", "path": "/sub", "requestId": "r1"},
            "browsingContextId": a, "requestId": "r1"}
    resp = await client.post("/api/drive", json=body)
    assert resp.status == 200
    assert await resp.json() == ["a.csv", "/sub"]
    assert seen_a[0]["pathname"] == "/api/drive" and seen_a[0]["body"] == body
    resp = await client.post("/api/drive", json={"data": {"method": "readdir", "path": ""},
                                                 "browsingContextId": b})
    assert await resp.json() == ["b.csv"]
    assert len(seen_a) == 1 and len(seen_b) == 1
    for ws, task in ((ws_a, task_a), (ws_b, task_b)):
        await ws.close()
        await task


async def test_page_leaving_fails_the_waiting_request(client):
    ctx = str(uuid.uuid4())
    ws2, task = await fake_page(client, ctx, lambda body: None, [])
    resp_task = asyncio.create_task(client.post("/api/drive", json={
        "data": {"method": "get", "path": "/missing"}, "browsingContextId": ctx}))
    await asyncio.sleep(0.2)
    await ws2.close()
    await task
    resp = await resp_task
    assert resp.status == 503  # the page left before answering


async def test_null_answer_is_json_null(client):
    ctx = str(uuid.uuid4())
    ws = await client.ws_connect(f"/api/relay/ws?browsingContextId={ctx}")
    post = asyncio.create_task(client.post("/api/drive", json={
        "data": {"method": "get", "path": "/missing"}, "browsingContextId": ctx}))
    msg = await ws.receive_json(timeout=5)
    await ws.send_json({"id": msg["id"], "response": None})
    resp = await post
    assert resp.status == 200 and await resp.text() == "null"
    await ws.close()


async def test_stdin_waits_for_the_student(client):
    ctx = str(uuid.uuid4())
    pending: list = []
    ws = await client.ws_connect(f"/api/relay/ws?browsingContextId={ctx}")
    post = asyncio.create_task(client.post("/api/stdin/kernel", json={
        "browsingContextId": ctx, "data": {"header": {"msg_type": "input_request"},
                                           "content": {"prompt": "name? "}}}))
    msg = await ws.receive_json(timeout=5)
    pending.append(msg)
    assert msg["pathname"] == "/api/stdin/kernel"
    await asyncio.sleep(1.5)  # longer than relay_timeout: input has no time limit
    assert not post.done()
    await ws.send_json({"id": msg["id"], "response": {"content": {"value": "Ada"}}})
    resp = await post
    assert resp.status == 200
    assert (await resp.json())["content"]["value"] == "Ada"
    await ws.close()


async def test_page_that_never_answers_times_out(client):
    ctx = str(uuid.uuid4())
    ws = await client.ws_connect(f"/api/relay/ws?browsingContextId={ctx}")
    resp = await client.post("/api/drive", json={"data": {"method": "getattr", "path": "/x"},
                                                 "browsingContextId": ctx})
    assert resp.status == 504
    assert "did not answer" in (await resp.json())["message"]
    await ws.close()


async def test_unknown_context_and_bad_bodies(client):
    resp = await client.post("/api/drive",
                             json={"data": {}, "browsingContextId": str(uuid.uuid4())})
    assert resp.status == 503
    resp = await client.post("/api/drive", data=b"not json",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.post("/api/drive", json={"data": {}, "browsingContextId": "../../x"})
    assert resp.status == 400
    resp = await client.post("/api/drive", json=[1, 2])
    assert resp.status == 400


async def test_second_page_cannot_take_over_a_context(client):
    ctx = str(uuid.uuid4())
    first = await client.ws_connect(f"/api/relay/ws?browsingContextId={ctx}")
    second = await client.ws_connect(f"/api/relay/ws?browsingContextId={ctx}")
    msg = await second.receive(timeout=5)
    assert second.closed or msg.type.name in {"CLOSE", "CLOSED"}
    assert second.close_code == 4409
    await first.close()


async def test_heartbeat(client):
    resp = await client.get("/api/service-worker-heartbeat")
    assert resp.status == 200 and await resp.text() == "ok"


async def test_sleep_endpoint_waits(client):
    import time

    started = time.monotonic()
    resp = await client.get("/api/sleep", params={"seconds": "0.5"})
    assert resp.status == 204
    assert time.monotonic() - started >= 0.5
    for bad in ["-1", "nan", "9999", "x", ""]:
        resp = await client.get("/api/sleep", params={"seconds": bad})
        assert resp.status == 400, bad
