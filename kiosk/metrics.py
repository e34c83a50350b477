"""``GET /metrics``: Prometheus text exposition (version 0.0.4), written by hand.

Counters are plain integers bumped by an ``on_response_prepare`` hook, which sees
every answer the kiosk sends (errors included). Bytes come from the response's
``Content-Length`` when known, labelled by ``Content-Encoding`` (br, gzip, identity),
so the cost of a class loading Pyodide shows up without reading any body.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from kiosk import __version__
from kiosk.config import KioskConfig
from kiosk.keys import RUNTIME
from kiosk.serving.state import BUNDLE_STATE
from kiosk.sharing.keys import STORE

_LOGGER = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NO_BODY = {204, 304}


@dataclass(slots=True)
class HttpCounters:
    """What the response hook counts; read by the ``/metrics`` handler."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    bytes_sent: Counter[str] = field(default_factory=Counter)


METRICS = web.AppKey("metrics_counters", HttpCounters)


async def count_response(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: count the answer and the bytes it announces."""
    counters = request.app[METRICS]
    counters.requests[(f"{response.status // 100}xx", request.method)] += 1
    if request.method == "HEAD" or response.status in _NO_BODY:
        return
    length = response.content_length
    if length:
        encoding = response.headers.get("Content-Encoding", "identity") or "identity"
        counters.bytes_sent[encoding.lower()] += length


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


class Exposition:
    """Builds the text format: one HELP/TYPE header per family, then its samples."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: list[tuple[dict[str, str], float]]) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            number = repr(float(value)) if isinstance(value, float) else str(value)
            self._lines.append(f"{name}{_labels(labels)} {number}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _resident_bytes() -> int | None:
    """Resident memory of this process from /proc/self/statm (works with ProcSubset=pid)."""
    try:
        fields = Path("/proc/self/statm").read_text(encoding="ascii").split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


async def render_metrics(app: web.Application) -> str:
    """The whole exposition for this app, right now."""
    counters = app[METRICS]
    runtime = app[RUNTIME]
    out = Exposition()
    out.family("kiosk_http_requests_total", "counter",
               "HTTP answers sent, by status class and method.",
               [({"code": code, "method": method}, n)
                for (code, method), n in sorted(counters.requests.items())])
    out.family("kiosk_http_response_bytes_total", "counter",
               "Body bytes announced by Content-Length, by Content-Encoding.",
               [({"encoding": enc}, n) for enc, n in sorted(counters.bytes_sent.items())])

    store = app.get(STORE)
    try:
        shares = None if store is None else await store.count()
    except Exception as exc:  # the store may be closed or broken; metrics still answer
        _LOGGER.debug("share count unavailable: %r", exc)
        shares = None
    if shares is not None:
        out.family("kiosk_shares", "gauge", "Notebooks currently shared on this kiosk.",
                   [({}, shares)])

    rss, fds = await asyncio.gather(asyncio.to_thread(_resident_bytes),
                                    asyncio.to_thread(_open_fds))
    if rss is not None:
        out.family("kiosk_process_resident_memory_bytes", "gauge",
                   "Resident memory of the kiosk process.", [({}, rss)])
    if fds is not None:
        out.family("kiosk_process_open_fds", "gauge", "Open file descriptors.", [({}, fds)])
    out.family("kiosk_process_cpu_seconds_total", "counter",
               "CPU time used by the kiosk process.", [({}, round(time.process_time(), 3))])
    out.family("kiosk_start_time_seconds", "gauge",
               "Unix time the kiosk started.", [({}, round(runtime.started_at, 3))])
    out.family("kiosk_uptime_seconds", "gauge", "Seconds since the kiosk started.",
               [({}, round(time.time() - runtime.started_at, 3))])

    state = app[BUNDLE_STATE]
    index = state.index
    out.family("kiosk_bundle_ok", "gauge",
               "1 when a valid bundle is active and the last switch worked.",
               [({}, 1 if index is not None and state.error is None else 0)])
    if index is not None:
        versions = index.manifest.versions
        out.family("kiosk_bundle_info", "gauge", "The active bundle (value is always 1).",
                   [({"name": index.name, "profile": index.manifest.profile,
                      "jupyterlite": str(versions.get("jupyterlite_core", "")),
                      "built_at": index.manifest.built_at}, 1)])
        out.family("kiosk_bundle_files", "gauge", "Files in the active bundle.",
                   [({}, len(index.manifest.files))])
        out.family("kiosk_bundle_bytes", "gauge", "Bytes of the active bundle.",
                   [({}, index.manifest.total_bytes)])
    out.family("kiosk_info", "gauge", "The kiosk's version (value is always 1).",
               [({"version": __version__}, 1)])
    return out.text()


async def metrics_handler(request: web.Request) -> web.Response:
    body = await render_metrics(request.app)
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE,
                                                     "Cache-Control": "no-store"})


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the counters, the response hook and ``/metrics``."""
    app[METRICS] = HttpCounters()
    app.on_response_prepare.append(count_response)
    app.router.add_get("/metrics", metrics_handler, name="metrics")
