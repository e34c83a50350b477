"""The drive/stdin relay over real sockets, with test clients playing the page's bridge."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid

import pytest

from kiosk.app import create_app
from kiosk.serving.pages import BRIDGE_TAG
from tests.fakebundle import make_bundle


@pytest.fixture
async def client(aiohttp_client, make_config):
    return await aiohttp_client(create_app(make_config(relay_timeout=1.0)))


def own_origin(client) -> dict[str, str]:
    """The Origin header a page of the kiosk sends (the relay refuses any other)."""
    return {"Origin": f"http://{client.server.host}:{client.server.port}"}


def browser_cookie() -> dict[str, str]:
    return {"Cookie": f"kiosk_browser={secrets.token_urlsafe(18)}"}


async def fake_bridge(client, cookie: dict[str, str], answer, seen: list):
    """Connect as a tab's bridge and answer every relayed request with answer(body)."""
    ws = await client.ws_connect("/api/relay/ws", headers={**cookie, **own_origin(client)})

    async def loop():
        async for msg in ws:
            message = json.loads(msg.data)
            seen.append(message)
            reply = answer(message["body"])
            if reply is not None:
                await ws.send_json({"id": message["id"], "response": reply})

    return ws, asyncio.create_task(loop())


async def test_drive_request_reaches_a_tab_of_its_own_browser(client):
    a, b = browser_cookie(), browser_cookie()
    seen_a: list = []
    seen_b: list = []
    ws_a, task_a = await fake_bridge(client, a, lambda body: ["a.csv", body["data"]["path"]],
                                     seen_a)
    ws_b, task_b = await fake_bridge(client, b, lambda body: ["b.csv"], seen_b)
    body = {"data": {"method": "readdir", "path": "/sub", "requestId": "r1"},
            "browsingContextId": str(uuid.uuid4()), "requestId": "r1"}
    resp = await client.post("/api/drive", json=body, headers=a)
    assert resp.status == 200
    assert await resp.json() == ["a.csv", "/sub"]
    assert seen_a[0]["pathname"] == "/api/drive" and seen_a[0]["body"] == body
    resp = await client.post("/api/drive", headers=b, json={
        "data": {"method": "readdir", "path": ""}, "browsingContextId": str(uuid.uuid4())})
    assert await resp.json() == ["b.csv"]
    assert len(seen_a) == 1 and len(seen_b) == 1
    for ws, task in ((ws_a, task_a), (ws_b, task_b)):
        await ws.close()
        await task


async def test_tab_leaving_fails_the_waiting_request(client):
    cookie = browser_cookie()
    ws, task = await fake_bridge(client, cookie, lambda body: None, [])
    resp_task = asyncio.create_task(client.post("/api/drive", headers=cookie, json={
        "data": {"method": "get", "path": "/missing"}, "browsingContextId": str(uuid.uuid4())}))
    await asyncio.sleep(0.2)
    await ws.close()
    await task
    resp = await resp_task
    assert resp.status == 503


async def test_null_answer_is_json_null(client):
    cookie = browser_cookie()
    ws = await client.ws_connect("/api/relay/ws", headers={**cookie, **own_origin(client)})
    post = asyncio.create_task(client.post("/api/drive", headers=cookie, json={
        "data": {"method": "get", "path": "/missing"}, "browsingContextId": str(uuid.uuid4())}))
    msg = await ws.receive_json(timeout=5)
    await ws.send_json({"id": msg["id"], "response": None})
    resp = await post
    assert resp.status == 200 and await resp.text() == "null"
    await ws.close()


async def test_stdin_waits_for_the_student(client):
    cookie = browser_cookie()
    ws = await client.ws_connect("/api/relay/ws", headers={**cookie, **own_origin(client)})
    post = asyncio.create_task(client.post("/api/stdin/kernel", headers=cookie, json={
        "browsingContextId": str(uuid.uuid4()),
        "data": {"header": {"msg_type": "input_request"}, "content": {"prompt": "name? "}}}))
    msg = await ws.receive_json(timeout=5)
    assert msg["pathname"] == "/api/stdin/kernel"
    await asyncio.sleep(1.5)  # longer than relay_timeout: input has no time limit
    assert not post.done()
    await ws.send_json({"id": msg["id"], "response": {"content": {"value": "Ada"}}})
    resp = await post
    assert resp.status == 200
    assert (await resp.json())["content"]["value"] == "Ada"
    await ws.close()


async def test_a_tab_that_connects_late_still_gets_the_request(client):
    cookie = browser_cookie()
    post = asyncio.create_task(client.post("/api/drive", headers=cookie, json={
        "data": {"method": "readdir", "path": ""}, "browsingContextId": str(uuid.uuid4())}))
    await asyncio.sleep(0.3)
    ws, task = await fake_bridge(client, cookie, lambda body: ["late.csv"], [])
    resp = await post
    assert resp.status == 200 and await resp.json() == ["late.csv"]
    await ws.close()
    await task


async def test_page_that_never_answers_times_out(client):
    cookie = browser_cookie()
    ws = await client.ws_connect("/api/relay/ws", headers={**cookie, **own_origin(client)})
    resp = await client.post("/api/drive", headers=cookie, json={
        "data": {"method": "getattr", "path": "/x"}, "browsingContextId": str(uuid.uuid4())})
    assert resp.status == 504
    assert "did not answer" in (await resp.json())["message"]
    await ws.close()


async def test_requests_without_a_connected_tab_or_cookie(client, monkeypatch):
    from kiosk.relay import RELAY_HUB

    client.app[RELAY_HUB].attach_wait = 0.2
    body = {"data": {}, "browsingContextId": str(uuid.uuid4())}
    resp = await client.post("/api/drive", json=body, headers=browser_cookie())
    assert resp.status == 503
    resp = await client.post("/api/drive", json=body)
    assert resp.status == 400 and "kiosk_browser" in (await resp.json())["message"]
    resp = await client.post("/api/drive", data=b"not json", headers={
        "Content-Type": "application/json", **browser_cookie()})
    assert resp.status == 400
    resp = await client.post("/api/drive", json={"data": {}, "browsingContextId": "../../x"},
                             headers=browser_cookie())
    assert resp.status == 400
    resp = await client.post("/api/drive", json=[1, 2], headers=browser_cookie())
    assert resp.status == 400
    resp = await client.get("/api/relay/ws", headers={"Cookie": "kiosk_browser=short",
                                                      **own_origin(client)})
    assert resp.status == 400


async def test_heartbeat_and_bridge_script(client):
    resp = await client.get("/api/service-worker-heartbeat")
    assert resp.status == 200 and await resp.text() == "ok"
    resp = await client.get("/_kiosk/bridge.js")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/javascript")
    text = await resp.text()
    assert "BroadcastChannel" in text
    # Only what must run before JupyterLite starts: kernels are the extension's job
    # (extension/src/kernelsetup.ts), which has the app instead of polling for it.
    assert "jupyterapp" not in text and "requestExecute" not in text


async def test_bundle_pages_load_the_bridge_right_after_the_polyfill(aiohttp_client, make_config,
                                                                     tmp_path):
    make_bundle(tmp_path / "bundles")
    client = await aiohttp_client(create_app(make_config(bundles_dir=tmp_path / "bundles")))
    html = await (await client.get("/lab/index.html",
                                   headers={"Accept-Encoding": "identity"})).text()
    first = html.index("<script")
    assert html.index(BRIDGE_TAG) < html.index("<script", first + 1) + 1
    off = await aiohttp_client(create_app(make_config(bundles_dir=tmp_path / "bundles",
                                                      relay_enabled=False)))
    html = await (await off.get("/lab/index.html",
                                headers={"Accept-Encoding": "identity"})).text()
    assert BRIDGE_TAG not in html


async def test_the_kiosks_service_worker_replaces_the_bundles(aiohttp_client, make_config,
                                                              tmp_path):
    """JupyterLite's 0.6.x worker mixes up the answers of one tab's kernels: the kiosk's own
    is served in its place (behaviour: tests/test_service_worker_browser.py)."""
    make_bundle(tmp_path / "bundles", extra={"service-worker.js": "// the bundle's worker\n"})
    client = await aiohttp_client(create_app(make_config(bundles_dir=tmp_path / "bundles")))
    resp = await client.get("/service-worker.js")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'"
    assert resp.headers["Cache-Control"] == "no-cache"
    text = await resp.text()
    assert "the bundle's worker" not in text and "input_reply" in text
    # Secure origins need it whether or not the plain-HTTP relay is on.
    off = await aiohttp_client(create_app(make_config(bundles_dir=tmp_path / "bundles",
                                                      relay_enabled=False)))
    assert await (await off.get("/service-worker.js")).text() == text


async def test_sleep_endpoint_waits(client):
    started = time.monotonic()
    resp = await client.get("/api/sleep", params={"seconds": "0.5"})
    assert resp.status == 204
    assert time.monotonic() - started >= 0.5
    for bad in ["-1", "nan", "9999", "x", ""]:
        resp = await client.get("/api/sleep", params={"seconds": bad})
        assert resp.status == 400, bad


async def test_a_contexts_file_calls_reach_the_page_one_at_a_time(client):
    """JupyterLite's page answers a file call with the browsing context only (no request
    id): two kernels of one tab waiting at once could swap answers (Pyodide then died on a
    stat given for a listing). The hub lets one call per context through at a time; other
    contexts are not held up."""
    cookie = browser_cookie()
    ws = await client.ws_connect("/api/relay/ws", headers={**cookie, **own_origin(client)})
    tab, other = str(uuid.uuid4()), str(uuid.uuid4())

    def call(path: str, context: str):
        return asyncio.create_task(client.post("/api/drive", headers=cookie, json={
            "data": {"method": "readdir", "path": path}, "browsingContextId": context}))

    first, second, elsewhere = call("/a", tab), call("/b", tab), call("/c", other)
    seen = [json.loads((await ws.receive(timeout=2)).data) for _ in range(2)]
    assert sorted(m["body"]["data"]["path"] for m in seen) == ["/a", "/c"]
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive(timeout=0.3)  # /b waits for /a's answer
    for message in seen:
        await ws.send_json({"id": message["id"], "response": [message["body"]["data"]["path"]]})
    held = json.loads((await ws.receive(timeout=2)).data)
    assert held["body"]["data"]["path"] == "/b"
    await ws.send_json({"id": held["id"], "response": ["/b"]})
    for task, want in ((first, "/a"), (second, "/b"), (elsewhere, "/c")):
        resp = await task
        assert resp.status == 200 and await resp.json() == [want]
    await ws.close()
