"""Middlewares: errors to HTTP answers (the one place that does it) and security headers."""

from __future__ import annotations

import errno
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable

from aiohttp import web

from kiosk.errors import InsufficientStorage, KioskError
from kiosk.i18n import N_
from kiosk.templating import TEMPLATES, html_response

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BASE_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

# The kiosk's own pages (landing, join, share views, dashboard) carry this CSP: no
# script at all unless the page names its scripts by exact URL (see kiosk_page_csp);
# 'self' would also allow /api/fetch, which answers a stranger's bytes. Bundle pages
# get one made for them in kiosk.serving.pages.
KIOSK_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
# Any other answer without a CSP of its own (JSON, SVG, XML, files): if a browser is
# sent to it, it is a sandboxed document that runs nothing.
INERT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def kiosk_page_csp(request: web.Request, *script_paths: str) -> str:
    """The CSP of a kiosk page that loads exactly ``script_paths`` (paths on this origin)."""
    if not script_paths:
        return KIOSK_PAGE_CSP
    origin = f"{request.scheme}://{request.host}"
    sources = " ".join(origin + path for path in script_paths)
    return KIOSK_PAGE_CSP.replace("script-src 'none'", f"script-src {sources}")


def wants_json(request: web.Request) -> bool:
    """API paths and JSON clients get JSON errors; browsers get a small page."""
    if request.path.startswith("/api/") or request.path in {"/healthz", "/metrics"}:
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: web.Request, status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    """The kiosk's error answer: JSON for APIs, a readable page otherwise."""
    if wants_json(request):
        body = json.dumps({"error_code": code, "message": message, "status": status})
        return web.Response(status=status, text=body, content_type="application/json",
                            headers=headers)
    templates = request.app.get(TEMPLATES)
    if templates is None or not templates.loaded:  # an app without the kiosk's pages
        return web.Response(status=status, text=f"{status}: {message}\n", headers=headers)
    return html_response(request, "error.html", status=status, headers=headers,
                         status_code=status, message=message)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map :class:`KioskError` (and aiohttp's HTTP errors) to answers."""
    try:
        return await handler(request)
    except KioskError as exc:
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else (
            exc.reason)
        code = exc.reason.lower().replace(" ", "_")
        headers = {k: v for k, v in exc.headers.items()
                   if k.lower() in {"allow", "retry-after", "content-range"}}
        return error_response(request, exc.status, code, message or exc.reason, headers)
    except Exception as exc:
        if is_disk_full(exc):
            _LOGGER.error("%s %s: the data directory's disk is full (%s)", request.method,
                          request.path, exc)
            full = InsufficientStorage(N_(
                "The kiosk's storage is full, so it cannot keep this work; ask the teacher "
                "to free space. Nothing saved before was lost."))
            return error_response(request, full.status, full.code, full.message)
        _LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(request, 500, "internal_error",
                              N_("Something went wrong inside the kiosk; it has been logged."))


def is_disk_full(exc: BaseException) -> bool:
    """Did a write fail for lack of space (SQLite's SQLITE_FULL, or ENOSPC / EDQUOT)?

    The free-space floor (``min_free_disk_mib``) refuses new shares before this happens,
    but it is read every few seconds and does not cover updates: the real end of the disk
    can still be met, and the client must get a 507, not a 500. SQLite rolls the failed
    transaction back, so nothing acknowledged before is affected.
    """
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: headers every answer carries."""
    for name, value in BASE_SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    ctype = response.headers.get("Content-Type", "")
    if ctype.startswith("text/html"):
        response.headers.setdefault("Content-Security-Policy", KIOSK_PAGE_CSP)
    else:
        response.headers.setdefault("Content-Security-Policy", INERT_CSP)
