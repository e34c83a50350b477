"""Serving the active JupyterLite bundle and the kiosk's own start page.

Routes added here: ``/`` (start page), ``/open`` (open a shared notebook by code)
and, last of all routes in the app, a catch-all GET/HEAD for the bundle's files.
"""

from __future__ import annotations

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.errors import BundleError, NotFound
from kiosk.serving.landing import landing, open_shared
from kiosk.serving.pages import BRIDGE_TAG
from kiosk.serving.schedule import PACER, Pacer
from kiosk.serving.state import BUNDLE_STATE, BundleState, bundle_context
from kiosk.serving.static import resolve, send_entry
from kiosk.urls import API_PREFIX

__all__ = ["BUNDLE_STATE", "BundleState", "setup"]

# No bundle file lives under the sharing API's prefix, so a request there that no API
# route took is a 404 (or 405), bundle or not.
_API_PREFIX = API_PREFIX + "/"


async def bundle_file(request: web.Request) -> web.StreamResponse:
    """GET/HEAD of any other path: a file of the active bundle, or 404."""
    state = request.app[BUNDLE_STATE]
    index = state.index
    if index is None or request.path.startswith(_API_PREFIX):
        # Not a bundle file after all? HEAD /s/<id> or HEAD /api/v1/health reach this
        # catch-all (their routes take GET only): 405, not the "no bundle" 503.
        allowed = await _methods_of_other_routes(request)
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
        if request.path.startswith(_API_PREFIX):
            raise NotFound("no such endpoint of the sharing API")
        raise BundleError(state.error or "no bundle is active")
    entry, redirect = resolve(index, request.path)
    if redirect is not None:
        query = request.query_string
        raise web.HTTPMovedPermanently(redirect + (f"?{query}" if query else ""))
    assert entry is not None
    return await send_entry(request, entry)


async def _methods_of_other_routes(request: web.Request) -> set[str]:
    """The methods the app's other routes accept for this path (empty: none has it).

    OPTIONS is left out: the sharing API's CORS preflight route takes any path under it.
    """
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.name == "bundle":
            continue
        match, methods = await resource.resolve(request)
        if match is None:
            allowed |= methods
    return allowed - {"OPTIONS"}


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the bundle state, the start page and the bundle's catch-all route."""
    head_extra = BRIDGE_TAG if config.relay_enabled else ""
    app[BUNDLE_STATE] = BundleState(config.bundles_path, head_extra)
    if config.link_mbit > 0:
        app[PACER] = Pacer.for_link(config.link_mbit)
    app.cleanup_ctx.append(bundle_context(config))
    app.router.add_get("/", landing, name="landing")
    app.router.add_get("/open", open_shared, name="open")
    app.router.add_get("/{tail:.*}", bundle_file, name="bundle")  # its name: see above
