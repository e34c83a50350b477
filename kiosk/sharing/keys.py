"""Application keys owned by the sharing feature."""

from __future__ import annotations

from aiohttp import web

from kiosk.sharing.service import SharingService
from kiosk.sharing.store import ShareStore
from kiosk.sharing.upstream import UPSTREAM_COPIES

SHARING = web.AppKey("sharing", SharingService)
STORE = web.AppKey("sharing_store", ShareStore)

__all__ = ["SHARING", "STORE", "UPSTREAM_COPIES"]
