"""HTTP and WebSocket routes of the relay (see :mod:`kiosk.relay.hub`)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from aiohttp import WSMsgType, web

from kiosk.errors import BadRequest, Conflict, UnsupportedMediaType
from kiosk.keys import CONFIG
from kiosk.relay.hub import RelayHub

_LOGGER = logging.getLogger(__name__)

RELAY_HUB = web.AppKey("relay_hub", RelayHub)

# Browsing context ids are UUIDs made by the page; accept nothing else.
_CONTEXT_RE = re.compile(r"[0-9A-Fa-f-]{8,64}")


def _context_id(value: Any) -> str:
    if not isinstance(value, str) or not _CONTEXT_RE.fullmatch(value):
        raise BadRequest("browsingContextId is missing or malformed")
    return value


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except json.JSONDecodeError:
        raise BadRequest("the body is not JSON") from None
    except UnicodeDecodeError:
        raise UnsupportedMediaType("the body is not UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def drive(request: web.Request) -> web.Response:
    """POST /api/drive: a file-system call from the kernel, answered by its page."""
    body = await _json_body(request)
    context = _context_id(body.get("browsingContextId"))
    timeout = request.app[CONFIG].relay_timeout
    response = await request.app[RELAY_HUB].forward(context, request.path, body, timeout)
    return web.Response(text=json.dumps(response), content_type="application/json")


async def stdin(request: web.Request) -> web.Response:
    """POST /api/stdin/<handler>: input() from the kernel; waits as long as the student."""
    body = await _json_body(request)
    context = _context_id(body.get("browsingContextId"))
    response = await request.app[RELAY_HUB].forward(context, request.path, body, None)
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


async def page_socket(request: web.Request) -> web.WebSocketResponse:
    """GET /api/relay/ws?browsingContextId=…: the page's end of the relay."""
    context = _context_id(request.query.get("browsingContextId"))
    hub = request.app[RELAY_HUB]
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=request.app[CONFIG].max_notebook_bytes
                               + 1024 * 1024)
    await ws.prepare(request)
    try:
        hub.attach(context, ws)
    except Conflict as exc:
        await ws.close(code=4409, message=exc.message.encode())
        return ws
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(msg.data)
            except json.JSONDecodeError:
                _LOGGER.warning("relay: page sent a message that is not JSON")
                continue
            if isinstance(message, dict):
                hub.resolve(context, ws, message)
    finally:
        hub.detach(context, ws)
    return ws


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/drive", drive)
    app.router.add_post("/api/stdin/{handler}", stdin)
    app.router.add_get("/api/service-worker-heartbeat", heartbeat)
    app.router.add_get("/api/sleep", sleep)
    app.router.add_get("/api/relay/ws", page_socket)
