"""``GET /healthz``: is the kiosk fit to serve a class? Cheap JSON for people and monitors.

The answer is ``{"status": "ok"|"degraded", "reasons": [...], "checks": {...}}`` and
always 200 while the process answers at all: a degraded kiosk still serves what it can
(the landing page, shares), and systemd's watchdog covers a kiosk that hangs.

Built-in checks: free space in the data directory against ``min_free_disk_mib`` (a
``shutil.disk_usage`` in a thread, cached a few seconds) and the active bundle.
Other capabilities (sync, later) add an async check to ``HEALTH_CHECKS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.keys import CONFIG, DISK_PROBE
from kiosk.serving.state import BUNDLE_STATE

DISK_CACHE_SECONDS = 5.0
_MIB = 1024 * 1024


@dataclass(slots=True)
class CheckResult:
    """One check's verdict: ``reason`` (a sentence for people) is set when it fails."""

    ok: bool
    details: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.details}


HealthCheck = Callable[[web.Application], Awaitable[CheckResult]]
HEALTH_CHECKS = web.AppKey("health_checks", dict[str, HealthCheck])




async def check_disk(app: web.Application) -> CheckResult:
    """Free space in the data directory against ``min_free_disk_mib``."""
    config = app[CONFIG]
    floor = int(config.min_free_disk_mib * _MIB)
    try:
        free, total = await app[DISK_PROBE].usage()
    except OSError as exc:
        return CheckResult(False, {"path": str(config.data_path), "error": str(exc)},
                           f"cannot measure free space in {config.data_path}: {exc}")
    details = {"path": str(config.data_path), "free_bytes": free, "total_bytes": total,
               "min_free_bytes": floor}
    if free < floor:
        return CheckResult(False, details,
                           f"low disk space: {free / _MIB:.0f} MiB free in "
                           f"{config.data_path}, below min_free_disk_mib "
                           f"({config.min_free_disk_mib:g} MiB); new shares get 507")
    return CheckResult(True, details)


async def check_bundle(app: web.Application) -> CheckResult:
    """A valid bundle is active, and the last switch did not fail."""
    state = app[BUNDLE_STATE]
    index = state.index
    details: dict[str, Any] = {"name": index.name if index else None, "error": state.error}
    if index is None:
        return CheckResult(False, details, state.error or "no bundle is active")
    if state.error:
        return CheckResult(False, details,
                           f"bundle switch refused, still serving {index.name}: {state.error}")
    return CheckResult(True, details)


async def collect_health(app: web.Application) -> dict[str, Any]:
    """Run every check (concurrently) and summarise them."""
    checks = app[HEALTH_CHECKS]
    names = list(checks)
    results = await asyncio.gather(*(checks[name](app) for name in names),
                                   return_exceptions=True)
    out: dict[str, Any] = {}
    reasons: list[str] = []
    for name, outcome in zip(names, results, strict=True):
        if isinstance(outcome, asyncio.CancelledError):
            raise outcome
        result = outcome if isinstance(outcome, CheckResult) else CheckResult(
            False, {"error": repr(outcome)}, f"health check {name!r} failed: {outcome!r}")
        out[name] = result.as_json()
        if result.reason:
            reasons.append(result.reason)
    return {"status": "degraded" if reasons else "ok", "reasons": reasons, "checks": out}


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(await collect_health(request.app),
                             headers={"Cache-Control": "no-store"})


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add ``/healthz`` and the built-in checks; others add theirs to ``HEALTH_CHECKS``."""
    checks: dict[str, HealthCheck] = {"disk": check_disk, "bundle": check_bundle}
    app[HEALTH_CHECKS] = checks
    app.router.add_get("/healthz", healthz, name="healthz")
