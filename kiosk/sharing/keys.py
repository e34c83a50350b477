"""Application keys owned by the sharing feature."""

from __future__ import annotations

from aiohttp import web

from kiosk.sharing.service import SharingService
from kiosk.sharing.store import ShareStore

SHARING = web.AppKey("sharing", SharingService)
STORE = web.AppKey("sharing_store", ShareStore)
