"""HTTP and WebSocket routes of the relay (see :mod:`kiosk.relay.hub`)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from kiosk.errors import BadRequest, UnsupportedMediaType
from kiosk.keys import CONFIG
from kiosk.relay.hub import RelayHub

_LOGGER = logging.getLogger(__name__)

RELAY_HUB = web.AppKey("relay_hub", RelayHub)

BROWSER_COOKIE = "kiosk_browser"
BRIDGE_JS = Path(__file__).with_name("bridge.js")

# Browsing context ids are UUIDs made by the page; browser ids are random tokens made by
# the bridge script. Accept nothing else.
_CONTEXT_RE = re.compile(r"[0-9A-Fa-f-]{8,64}")
_BROWSER_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _context_id(value: Any) -> str:
    if not isinstance(value, str) or not _CONTEXT_RE.fullmatch(value):
        raise BadRequest("browsingContextId is missing or malformed")
    return value


def _browser_id(request: web.Request) -> str:
    value = request.cookies.get(BROWSER_COOKIE) or request.query.get("browser")
    if not value or not _BROWSER_RE.fullmatch(value):
        raise BadRequest("this request does not come from a page of the kiosk "
                         f"(no {BROWSER_COOKIE} cookie): reload the notebook page")
    return value


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, RecursionError):
        raise BadRequest("the body is not JSON (or is nested too deeply)") from None
    except UnicodeDecodeError:
        raise UnsupportedMediaType("the body is not UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def drive(request: web.Request) -> web.Response:
    """POST /api/drive: a file-system call from the kernel, answered by its page."""
    body = await _json_body(request)
    _context_id(body.get("browsingContextId"))
    browser = _browser_id(request)
    timeout = request.app[CONFIG].relay_timeout
    response = await request.app[RELAY_HUB].forward(browser, request.path, body, timeout)
    return web.Response(text=json.dumps(response), content_type="application/json")


async def stdin(request: web.Request) -> web.Response:
    """POST /api/stdin/<handler>: input() from the kernel; waits as long as the student."""
    body = await _json_body(request)
    _context_id(body.get("browsingContextId"))
    browser = _browser_id(request)
    response = await request.app[RELAY_HUB].forward(browser, request.path, body, None)
    return web.Response(text=json.dumps(response), content_type="application/json")


MAX_SLEEP_SECONDS = 600.0


async def sleep(request: web.Request) -> web.Response:
    """GET /api/sleep?seconds=n: answer after n seconds.

    The kernel's ``time.sleep`` makes a synchronous request here, so the worker waits
    blocked instead of spinning a core (Pyodide 0.27 busy-waits; a phone's battery).
    """
    try:
        seconds = float(request.query.get("seconds", ""))
    except ValueError:
        raise BadRequest("add ?seconds=<a number>") from None
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:  # NaN fails every comparison too
        raise BadRequest(f"seconds must be between 0 and {MAX_SLEEP_SECONDS:.0f}")
    await asyncio.sleep(seconds)
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


async def heartbeat(request: web.Request) -> web.Response:
    """GET /api/service-worker-heartbeat: the page's keep-alive ping."""
    return web.Response(text="ok", headers={"Cache-Control": "no-store"})


async def bridge_script(request: web.Request) -> web.FileResponse:
    """GET /_kiosk/bridge.js: the page side of the relay (see kiosk.relay.hub)."""
    return web.FileResponse(BRIDGE_JS, headers={
        "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache"})


async def page_socket(request: web.Request) -> web.WebSocketResponse:
    """GET /api/relay/ws: a tab's bridge (its browser named by the kiosk_browser cookie)."""
    browser = _browser_id(request)
    hub = request.app[RELAY_HUB]
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=request.app[CONFIG].max_notebook_bytes
                               + 1024 * 1024)
    await ws.prepare(request)
    hub.attach(browser, ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(msg.data)
            except (json.JSONDecodeError, RecursionError):
                _LOGGER.warning("relay: page sent a message that is not JSON")
                continue
            if isinstance(message, dict):
                hub.resolve(browser, ws, message)
    finally:
        hub.detach(browser, ws)
    return ws


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/drive", drive)
    app.router.add_post("/api/stdin/{handler}", stdin)
    app.router.add_get("/api/service-worker-heartbeat", heartbeat)
    app.router.add_get("/api/sleep", sleep)
    app.router.add_get("/api/relay/ws", page_socket)
    app.router.add_get("/_kiosk/bridge.js", bridge_script)
