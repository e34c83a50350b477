"""Serving the active JupyterLite bundle and the kiosk's own landing page."""

from __future__ import annotations

from aiohttp import web

from kiosk.config import KioskConfig


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the bundle state, the landing page and the bundle's catch-all route."""
