"""HTTP and WebSocket routes of the relay (see :mod:`kiosk.relay.hub`)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from kiosk.errors import BadRequest, Forbidden, UnsupportedMediaType
from kiosk.keys import CONFIG
from kiosk.ratelimit import ConcurrencyLimiter
from kiosk.relay.hub import RelayHub

_LOGGER = logging.getLogger(__name__)

RELAY_HUB = web.AppKey("relay_hub", RelayHub)
SLEEPS = web.AppKey("relay_sleeps", ConcurrencyLimiter)

# time.sleep() of one device's kernels at once (a few tabs), and of the whole kiosk.
SLEEPS_PER_CLIENT = 8
SLEEPS_TOTAL = 1024

BROWSER_COOKIE = "kiosk_browser"
BRIDGE_JS = Path(__file__).with_name("bridge.js")
SERVICE_WORKER_JS = Path(__file__).with_name("service-worker.js")

# Browsing context ids are UUIDs made by the page; browser ids are random tokens made by
# the bridge script. Accept nothing else.
_CONTEXT_RE = re.compile(r"[0-9A-Fa-f-]{8,64}")
_BROWSER_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _context_id(value: Any) -> str:
    if not isinstance(value, str) or not _CONTEXT_RE.fullmatch(value):
        raise BadRequest("browsingContextId is missing or malformed")
    return value


def client_key(request: web.Request) -> str:
    """The client's address: an in-memory key for limits and bindings, never stored."""
    return request.remote or "unknown"


def _browser_id(request: web.Request) -> str:
    # Only the HttpOnly cookie the kiosk set (see bridge_script): never a URL parameter,
    # which leaks through history, logs and shared links.
    value = request.cookies.get(BROWSER_COOKIE)
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
    context = _context_id(body.get("browsingContextId"))
    browser = _browser_id(request)
    timeout = request.app[CONFIG].relay_timeout
    response = await request.app[RELAY_HUB].forward(browser, request.path, body, timeout,
                                                     client=client_key(request), turn=context)
    return web.Response(text=json.dumps(response), content_type="application/json")


async def stdin(request: web.Request) -> web.Response:
    """POST /api/stdin/<handler>: input() from the kernel; waits as long as the student."""
    body = await _json_body(request)
    _context_id(body.get("browsingContextId"))
    browser = _browser_id(request)
    response = await request.app[RELAY_HUB].forward(browser, request.path, body, None,
                                                     client=client_key(request))
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
    with request.app[SLEEPS].hold(client_key(request)):
        await asyncio.sleep(seconds)
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


async def heartbeat(request: web.Request) -> web.Response:
    """GET /api/service-worker-heartbeat: the page's keep-alive ping."""
    return web.Response(text="ok", headers={"Cache-Control": "no-store"})


async def bridge_script(request: web.Request) -> web.FileResponse:
    """GET /_kiosk/bridge.js: the page side of the relay (see kiosk.relay.hub).

    It also names the browser: a random ``kiosk_browser`` cookie, HttpOnly (no script,
    not even a stranger's that got to run, can read it), SameSite=Strict, for the session.
    An existing valid value is kept (open tabs stay bound) but set again HttpOnly.
    """
    current = request.cookies.get(BROWSER_COOKIE)
    value = current if current and _BROWSER_RE.fullmatch(current) else secrets.token_urlsafe(24)
    response = web.FileResponse(BRIDGE_JS, headers={
        "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache"})
    response.set_cookie(BROWSER_COOKIE, value, path="/", httponly=True, samesite="Strict",
                        secure=request.secure)
    return response


async def service_worker(request: web.Request) -> web.FileResponse:
    """GET /service-worker.js: the kiosk's service worker, in place of the bundle's.

    JupyterLite registers it on secure origins (localhost, HTTPS). It answers the
    kernel's file and input() requests like the bundle's (JupyterLite 0.6.x) worker, but
    keeps apart the answers for several kernels of one tab, which that one mixes up
    (see the script's header). Its own CSP lets it load and fetch nothing: it needs neither.
    """
    return web.FileResponse(SERVICE_WORKER_JS, headers={
        "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache",
        "Content-Security-Policy": "default-src 'none'"})


def own_origin(request: web.Request) -> str:
    """The origin a page of this kiosk has when it was loaded through this request's Host."""
    return f"{request.scheme}://{request.host}".lower()


def _check_origin(request: web.Request) -> None:
    # A WebSocket is not bound by the same-origin policy: without this check any site a
    # student visits could attach a socket with her cookie and answer her input().
    origin = request.headers.get("Origin", "").lower()
    if origin != own_origin(request):
        raise Forbidden("the relay accepts connections only from the kiosk's own pages")


async def page_socket(request: web.Request) -> web.WebSocketResponse:
    """GET /api/relay/ws: a tab's bridge (its browser named by the kiosk_browser cookie)."""
    _check_origin(request)
    browser = _browser_id(request)
    hub = request.app[RELAY_HUB]
    hub.check_attach(browser, client_key(request))
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=request.app[CONFIG].max_notebook_bytes
                               + 1024 * 1024)
    await ws.prepare(request)
    hub.attach(browser, ws, client=client_key(request))
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
    app[SLEEPS] = ConcurrencyLimiter(SLEEPS_PER_CLIENT, SLEEPS_TOTAL, what="sleeps")
    app.router.add_post("/api/drive", drive)
    app.router.add_post("/api/stdin/{handler}", stdin)
    app.router.add_get("/api/service-worker-heartbeat", heartbeat)
    app.router.add_get("/api/sleep", sleep)
    app.router.add_get("/api/relay/ws", page_socket)
    app.router.add_get("/_kiosk/bridge.js", bridge_script)


def add_service_worker_route(app: web.Application) -> None:
    """Serve the kiosk's service worker (secure origins use it, with or without the relay)."""
    app.router.add_get("/service-worker.js", service_worker)
