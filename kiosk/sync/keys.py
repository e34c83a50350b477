"""Application keys owned by the sync feature.

``app[SYNC_WORKER]`` always exists (an inert worker when sync is off), so the
dashboard can call ``app[SYNC_WORKER].sync_now()`` or read ``.status()`` unconditionally.
"""

from __future__ import annotations

from aiohttp import web

from kiosk.sync.worker import SyncWorker

SYNC_WORKER = web.AppKey("sync_worker", SyncWorker)
