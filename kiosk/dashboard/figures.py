"""What the dashboard shows, gathered in one place (and testable without HTML).

Machine health comes from psutil. Its calls read ``/proc`` and ``/sys`` files, so
:func:`machine_health` is blocking and runs in a thread; every figure is optional
(None when the board or the sandbox does not provide it, e.g. no temperature sensor).
``cpu_percent(interval=None)`` measures since the previous call: the dashboard's
cleanup context primes it once at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from aiohttp import web

from kiosk.bundle.catalog import built_bundles
from kiosk.discovery.keys import DISCOVERY_STATUS
from kiosk.keys import CONFIG, RUNTIME
from kiosk.serving.state import BUNDLE_STATE
from kiosk.sharing.keys import STORE
from kiosk.status import STATUS_SECTIONS, bundle_summary

# Temperature sensors to prefer, in order (Raspberry Pi first, then common PC ones).
_SENSOR_PREFERENCE = ("cpu_thermal", "soc_thermal", "coretemp", "k10temp", "acpitz")


@dataclass(slots=True)
class MachineHealth:
    """psutil's figures; each is None when unavailable."""

    cpu_percent: float | None = None
    cpu_count: int | None = None
    temperature_c: float | None = None
    memory_used_percent: float | None = None
    memory_available_bytes: int | None = None
    memory_total_bytes: int | None = None
    disk_free_bytes: int | None = None
    disk_total_bytes: int | None = None
    system_uptime_s: float | None = None
    load: tuple[float, float, float] | None = None


def prime_cpu_percent() -> None:
    """The first ``cpu_percent(interval=None)`` answers 0.0: call it once, early."""
    with contextlib.suppress(OSError, RuntimeError):
        psutil.cpu_percent(interval=None)


def _temperature() -> float | None:
    reader = getattr(psutil, "sensors_temperatures", None)  # absent on some platforms
    if reader is None:
        return None
    try:
        sensors: dict[str, list[Any]] = reader()
    except (OSError, RuntimeError):
        return None
    names = [n for n in _SENSOR_PREFERENCE if n in sensors] + sorted(sensors)
    for name in names:
        for entry in sensors.get(name, []):
            if entry.current is not None and entry.current > -50:
                return float(entry.current)
    return None


def machine_health(data_dir: Path) -> MachineHealth:
    """Read the machine's figures (blocking: run in a thread)."""
    out = MachineHealth()
    with contextlib.suppress(OSError, RuntimeError):
        out.cpu_percent = float(psutil.cpu_percent(interval=None))
    out.cpu_count = os.cpu_count()
    out.temperature_c = _temperature()
    with contextlib.suppress(OSError, RuntimeError):
        mem = psutil.virtual_memory()
        out.memory_used_percent = float(mem.percent)
        out.memory_available_bytes = int(mem.available)
        out.memory_total_bytes = int(mem.total)
    with contextlib.suppress(OSError):
        disk = psutil.disk_usage(str(data_dir))
        out.disk_free_bytes, out.disk_total_bytes = int(disk.free), int(disk.total)
    with contextlib.suppress(OSError, RuntimeError):
        out.system_uptime_s = max(0.0, time.time() - psutil.boot_time())
    with contextlib.suppress(OSError):
        one, five, fifteen = os.getloadavg()
        out.load = (one, five, fifteen)
    return out


def start_of_today(now: float | None = None) -> float:
    """Local midnight of today, as a UNIX time."""
    moment = datetime.datetime.fromtimestamp(time.time() if now is None else now)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


@dataclass(slots=True)
class BundleChoice:
    """A built bundle the teacher can switch to."""

    name: str
    active: bool
    profile: str | None
    error: str | None


@dataclass(slots=True)
class Overview:
    """Everything the dashboard page shows, read once per page view."""

    name: str
    health: MachineHealth
    process_uptime_s: float
    min_free_disk_bytes: int
    students_seen: int
    shares_total: int | None
    shares_today: int | None
    sync: dict[str, Any]
    bundle: dict[str, Any] | None
    bundle_error: str | None
    bundles: list[BundleChoice]
    peers: list[dict[str, Any]]
    conflicts: list[str]
    host_name: str | None
    urls: list[str]
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)


def _bundle_choices(bundles_dir: Path) -> list[BundleChoice]:
    return [BundleChoice(b.name, b.active, b.manifest.profile if b.manifest else None,
                         b.error) for b in built_bundles(bundles_dir)]


async def gather_overview(app: web.Application, students_seen: int) -> Overview:
    """Collect the dashboard's figures (blocking reads go to threads)."""
    config = app[CONFIG]
    runtime = app[RUNTIME]
    health_task = asyncio.to_thread(machine_health, config.data_path)
    bundles_task = asyncio.to_thread(_bundle_choices, config.bundles_path)
    health, bundles = await asyncio.gather(health_task, bundles_task)
    store = app[STORE]
    try:
        total: int | None = await store.count()
        today: int | None = await store.count_created_since(start_of_today())
    except Exception:  # a broken store must not hide the rest of the dashboard
        total = today = None
    sections: dict[str, dict[str, Any]] = {}
    for key, section in app[STATUS_SECTIONS].items():
        with contextlib.suppress(Exception):
            sections[key] = section(app)
    sync = sections.pop("sync", None) or {"enabled": config.sync_enabled}
    discovery = app[DISCOVERY_STATUS]
    peers = [{"name": p.name, "url": p.url, "host": p.host, "addresses": list(p.addresses),
              "port": p.port, "version": p.txt.get("version"),
              "age_s": max(0.0, time.time() - p.last_seen)}
             for p in sorted(discovery.peers.values(), key=lambda p: p.name)]
    return Overview(
        name=config.name, health=health,
        process_uptime_s=max(0.0, time.time() - runtime.started_at),
        min_free_disk_bytes=int(config.min_free_disk_mib * 1024 * 1024),
        students_seen=students_seen, shares_total=total, shares_today=today, sync=sync,
        bundle=bundle_summary(app), bundle_error=app[BUNDLE_STATE].error, bundles=bundles,
        peers=peers, conflicts=list(discovery.conflicts), host_name=discovery.host_name,
        urls=list(discovery.urls), sections=sections)
