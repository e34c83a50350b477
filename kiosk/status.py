"""``GET /api/kiosk/status``: what this kiosk is and serves, for the notebook's badge and tools.

Cheap and free of client data: the kiosk's name and version, the active bundle and
its versions, how long it has run. Capabilities that have a state to report (sync,
discovery) add a callable to ``STATUS_SECTIONS``; each returns a JSON-able dict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kiosk import __version__
from kiosk.config import KioskConfig
from kiosk.keys import CONFIG, RUNTIME
from kiosk.serving.state import BUNDLE_STATE

StatusSection = Callable[[web.Application], dict[str, Any]]
STATUS_SECTIONS = web.AppKey("status_sections", dict[str, StatusSection])


def bundle_summary(app: web.Application) -> dict[str, Any] | None:
    """The active bundle's name, profile and versions (None when there is none)."""
    index = app[BUNDLE_STATE].index
    if index is None:
        return None
    return {"name": index.name, "profile": index.manifest.profile,
            "built_at": index.manifest.built_at, "versions": index.manifest.versions,
            "files": len(index.manifest.files), "bytes": index.manifest.total_bytes}


def collect_status(app: web.Application) -> dict[str, Any]:
    config = app[CONFIG]
    runtime = app[RUNTIME]
    state = app[BUNDLE_STATE]
    status: dict[str, Any] = {
        "name": config.name,
        "version": __version__,
        "uptime_s": round(time.time() - runtime.started_at, 1),
        "secure_context_hint": "https" if config.tls_cert else "http",
        "bundle": bundle_summary(app),
        "bundle_error": state.error,
        # Until a sync section reports otherwise: nothing leaves the kiosk.
        "online": False,
        "sync": {"enabled": config.sync_enabled},
        # Files and input() work on plain HTTP through the kiosk's relay (kiosk.relay).
        "relay": config.relay_enabled,
    }
    for key, section in app[STATUS_SECTIONS].items():
        status[key] = section(app)
    return status


async def status_handler(request: web.Request) -> web.Response:
    return web.json_response(collect_status(request.app),
                             headers={"Cache-Control": "no-store"})


def setup(app: web.Application, config: KioskConfig) -> None:
    app[STATUS_SECTIONS] = {}
    app.router.add_get("/api/kiosk/status", status_handler, name="kiosk-status")
