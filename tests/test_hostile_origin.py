"""Issue #17 (1, 4): nothing fetched runs as the kiosk, and the relay cannot be hijacked.

The attack that worked: a student shared a link to ``/api/fetch?url=<her page>``; the
answer was inline HTML whose ``<script src="/api/fetch?url=<her script>">`` the pages'
``script-src 'self'`` allowed, and SVG answers had no CSP at all. It read the
``kiosk_browser`` cookie (not HttpOnly) and, with the id, attached its own relay socket
(any Origin, id from the URL) to answer a classmate's ``getpass()``.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kiosk.app import create_app
from kiosk.relay import RELAY_HUB
from kiosk.relay.web import SLEEPS_PER_CLIENT
from tests.browserlib import run_scenario
from tests.internet_netns import internet

EVIL_JS = (b"localStorage.setItem('pwned', (localStorage.getItem('pwned') || '') + "
           b"location.pathname + ' ' + document.cookie + '|');")


def evil_files(script_url: str) -> dict[str, bytes]:
    return {
        "evil.js": EVIL_JS,
        "page.html": (f'<!doctype html><title>quiz</title><script src="/api/fetch?url='
                      f'{script_url}"></script><script>{EVIL_JS.decode()}</script>').encode(),
        "pic.svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                    b"<script>" + EVIL_JS + b"</script></svg>"),
    }


@pytest.fixture
async def internet_origin():
    """Loopback stand-in for the internet (in-process tests; the browser test uses a netns)."""
    files = evil_files("x")
    types = {"evil.js": "application/javascript", "page.html": "text/html; charset=utf-8",
             "pic.svg": "image/svg+xml"}

    async def serve(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(body=files[name], headers={"Content-Type": types[name]})

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}/"
    await server.close()


@pytest.fixture
async def client(aiohttp_client, make_config):
    config = await asyncio.to_thread(make_config, fetch_allow_private=True)
    return await aiohttp_client(create_app(config))


async def test_fetch_answers_are_inert_attachments(client, internet_origin):
    for name, original in [("page.html", "text/html"), ("pic.svg", "image/svg+xml"),
                           ("evil.js", "application/javascript")]:
        resp = await client.get("/api/fetch", params={"url": internet_origin + name})
        assert resp.status == 200, name
        assert await resp.read() == evil_files("x")[name]  # the bytes are untouched
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert resp.headers["Content-Security-Policy"].startswith("sandbox")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        ctype = resp.headers["Content-Type"]
        assert not any(w in ctype for w in ("html", "svg", "javascript", "xml")), ctype
        assert ctype.startswith(("text/plain", "application/octet-stream")), (original, ctype)


async def test_kiosk_pages_never_allow_scripts_from_api_paths(client):
    share = await client.post("/api/v1/auth/issue")
    token = (await share.json())["token"]
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    created = await client.post("/api/v1/notebooks", json={"notebook": nb},
                                headers={"Authorization": f"Bearer {token}"})
    rid = (await created.json())["notebook"]["readable_id"]
    for path in ["/", "/join", "/admin", f"/s/{rid}", "/no-such-page", "/join/poster.svg",
                 "/api/kiosk/status"]:
        resp = await client.get(path)
        csp = resp.headers.get("Content-Security-Policy", "")
        assert csp, path
        scripts = csp.split("script-src", 1)[1].split(";")[0] if "script-src" in csp else ""
        assert "'self'" not in scripts and "/api/" not in scripts, (path, csp)
        if "script-src" not in csp:
            assert csp.startswith("sandbox") or "default-src 'none'" in csp, (path, csp)


async def test_browser_cookie_is_set_by_the_kiosk_httponly(client):
    resp = await client.get("/_kiosk/bridge.js")
    cookie = resp.cookies["kiosk_browser"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert len(cookie.value) >= 24
    # A browser that already has an id keeps it (its open tabs stay bound), now HttpOnly.
    old = secrets.token_urlsafe(18)
    client.session.cookie_jar.clear()
    again = await client.get("/_kiosk/bridge.js", headers={"Cookie": f"kiosk_browser={old}"})
    assert again.cookies["kiosk_browser"].value == old
    assert again.cookies["kiosk_browser"]["httponly"]
    assert "document.cookie" not in await again.text()


def _origin(client) -> str:
    return f"http://{client.server.host}:{client.server.port}"


async def test_relay_socket_checks_origin_and_takes_no_id_from_the_url(client):
    cookie = {"Cookie": f"kiosk_browser={secrets.token_urlsafe(18)}"}
    for origin in [None, "http://evil.example", "null", _origin(client) + ".evil.example"]:
        headers = dict(cookie) if origin is None else {**cookie, "Origin": origin}
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await client.ws_connect("/api/relay/ws", headers=headers)
        assert info.value.status == 403, origin
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect(f"/api/relay/ws?browser={secrets.token_urlsafe(18)}",
                                headers={"Origin": _origin(client)})
    assert info.value.status == 400
    ws = await client.ws_connect("/api/relay/ws", headers={**cookie, "Origin": _origin(client)})
    await ws.close()


async def test_a_leaked_id_cannot_take_over_from_another_device(client):
    """The victim's tab is on 127.0.0.1; the attacker, on 127.0.0.2, knows her id."""
    victim_id = secrets.token_urlsafe(18)
    cookie = {"Cookie": f"kiosk_browser={victim_id}"}
    origin = {"Origin": _origin(client)}
    victim = await client.ws_connect("/api/relay/ws", headers={**cookie, **origin})
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as attacker:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await attacker.ws_connect(client.make_url("/api/relay/ws"),
                                      headers={**cookie, **origin})
        assert info.value.status == 403
        # Nor can it send requests into her page.
        client.app[RELAY_HUB].attach_wait = 0.3
        resp = await attacker.post(client.make_url("/api/stdin/kernel"), headers=cookie,
                                   json={"data": {"prompt": "password?", "password": True},
                                         "browsingContextId": str(uuid.uuid4())})
        assert resp.status == 503
    # Her own kernel still reaches her page.
    post = asyncio.create_task(client.post("/api/drive", headers=cookie, json={
        "data": {"method": "readdir"}, "browsingContextId": str(uuid.uuid4())}))
    msg = await victim.receive_json(timeout=5)
    await victim.send_json({"id": msg["id"], "response": ["mine.csv"]})
    resp = await post
    assert resp.status == 200 and await resp.json() == ["mine.csv"]
    await victim.close()


async def test_sleeps_are_capped_per_client(client):
    holders = [asyncio.create_task(client.get("/api/sleep", params={"seconds": "3"}))
               for _ in range(SLEEPS_PER_CLIENT)]
    await asyncio.sleep(0.5)
    resp = await client.get("/api/sleep", params={"seconds": "3"})
    assert resp.status == 429 and "Retry-After" in resp.headers
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as neighbour:
        resp = await neighbour.get(client.make_url("/api/sleep"), params={"seconds": "0.1"})
        assert resp.status == 204
    assert all(r.status == 204 for r in await asyncio.gather(*holders))


@pytest.mark.browser
@pytest.mark.netns
def test_fetched_page_and_svg_never_run_in_chromium(kiosk_process, tmp_path):
    base = "http://192.31.196.2:8080/"
    with internet(evil_files(base + "evil.js"), tmp_path) as base:
        kp = kiosk_process()
        result = run_scenario("hostile_fetch", {
            "origin": kp.url(), "targets": [base + "page.html", base + "pic.svg"],
            "scriptUrl": base + "evil.js"})
    assert result["mark"] is None, result
    assert result["injected"] == "blocked", result
    assert [o["how"] for o in result["opened"]] == ["download", "download"], result
    assert "kiosk_browser" not in result["documentCookie"]
