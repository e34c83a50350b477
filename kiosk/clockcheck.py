"""The clock's verdict where people look: a ``clock`` section in ``/api/kiosk/status``
and a ``clock`` health check in ``/healthz`` ("clock not set" while it cannot be believed).

The guard itself is core (:mod:`kiosk.clock`, made by the app factory); this module only
reports it, so it needs status and health set up before it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kiosk.clock import CLOCK_GUARD
from kiosk.config import KioskConfig
from kiosk.health import HEALTH_CHECKS, CheckResult
from kiosk.status import STATUS_SECTIONS

__all__ = ["setup"]


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the ``clock`` status section and health check."""
    guard = app[CLOCK_GUARD]

    def section(app: web.Application) -> dict[str, Any]:
        return guard.verdict().as_json()

    async def check(app: web.Application) -> CheckResult:
        verdict = guard.verdict()
        return CheckResult(verdict.trusted, verdict.as_json(), verdict.reason)

    app[STATUS_SECTIONS]["clock"] = section
    app[HEALTH_CHECKS]["clock"] = check
