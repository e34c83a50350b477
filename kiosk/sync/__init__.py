"""Sync: forward what students share to an upstream sharing API when the line is up.

``setup(app, config)`` adds the :class:`~kiosk.sync.worker.SyncWorker` (inert when
sync is off) under ``SYNC_WORKER``, its cleanup context (after sharing's, so the
store outlives it), the status section, the health check, the pull-through hook
of the sharing API and the routes of :mod:`kiosk.sync.endpoints`. See ``docs/reliability.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.health import HEALTH_CHECKS
from kiosk.sharing.keys import SHARING, UPSTREAM_COPIES
from kiosk.status import STATUS_SECTIONS
from kiosk.sync import endpoints, outbox
from kiosk.sync.keys import SYNC_WORKER
from kiosk.sync.worker import SyncWorker

__all__ = ["SYNC_WORKER", "SyncWorker", "setup"]


def setup(app: web.Application, config: KioskConfig) -> None:
    """Wire sync in; needs sharing, status and health set up before it."""
    service = app[SHARING]
    worker = SyncWorker(config, service.store)
    app[SYNC_WORKER] = worker
    app[UPSTREAM_COPIES] = worker  # take-home links on sharing's pages
    # Sync's tables in the store's database; the outbox fills only once the teacher
    # configured an upstream and turned sync on.
    outbox.attach(service.store, queue_writes=worker.enabled)
    if worker.enabled:
        service.store.change_listeners.append(worker.wake)
        service.pull_through = worker.pull

    async def sync_ctx(app: web.Application) -> AsyncIterator[None]:
        await worker.start()
        try:
            yield
        finally:
            await worker.stop()

    app.cleanup_ctx.append(sync_ctx)
    app[STATUS_SECTIONS]["sync"] = endpoints.status_section
    app[HEALTH_CHECKS]["sync"] = endpoints.health_check
    app.router.add_routes(endpoints.routes())
