"""The service worker's job, done by the kiosk: files and input() for kernels on plain HTTP.

See :mod:`kiosk.relay.hub` for how requests reach the page that owns them.
"""

from __future__ import annotations

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.relay.hub import RelayHub
from kiosk.relay.web import RELAY_HUB, add_routes, add_service_worker_route

__all__ = ["RELAY_HUB", "RelayHub", "setup"]


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the kiosk's service worker, and the relay's routes (when enabled)."""
    add_service_worker_route(app)
    if not config.relay_enabled:
        return
    app[RELAY_HUB] = RelayHub()
    add_routes(app)
