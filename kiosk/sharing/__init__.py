"""Local share links: the Jupyter Everywhere sharing API on an SQLite store.

``setup(app, config)`` registers the feature: a cleanup context that starts and
stops :class:`~kiosk.sharing.service.SharingService`, the ``/api/v1`` routes, the
read-only share pages ``/s/<readable id>`` and the teacher's ``/api/admin`` routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from kiosk.clock import CLOCK_GUARD
from kiosk.config import KioskConfig
from kiosk.keys import DISK_PROBE
from kiosk.sharing import admin, api, guessing, openapi, view
from kiosk.sharing.keys import SHARING, STORE
from kiosk.sharing.service import SharingService

__all__ = ["setup"]


def setup(app: web.Application, config: KioskConfig) -> None:
    """Wire sharing into the app (no I/O here; the cleanup context starts it)."""
    service = SharingService(config, disk=app[DISK_PROBE], clock=app[CLOCK_GUARD])
    app[SHARING] = service
    app[STORE] = service.store

    async def sharing_ctx(app: web.Application) -> AsyncIterator[None]:
        try:
            await service.start()
        except BaseException:
            await service.close()  # teardown does not run when setup fails
            raise
        try:
            yield
        finally:
            await service.close()

    app.cleanup_ctx.append(sharing_ctx)
    app.on_response_prepare.append(api.cors_headers)
    app.router.add_routes(api.routes())
    app.router.add_routes(openapi.routes())
    app.router.add_routes(view.routes())
    app.router.add_routes(admin.routes())
    guessing.setup(app, config.rate_miss_per_minute)
