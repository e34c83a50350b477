"""The dashboard's pages: server-rendered, light, readable, and with no script at all.

The templates are ``kiosk/templates/dashboard/``; this module turns an
:class:`Overview` into what they show (figures in words, tables as rows). Every value
is escaped by the templates. Figures carry ``id`` and ``data-value`` attributes so
tests and screen readers can find them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kiosk import __version__
from kiosk.dashboard.figures import Overview
from kiosk.sharing.store import ShareSummary
from kiosk.templating import Markup, render

MESSAGES = {
    "deleted": "The share was deleted.",
    "cleared": "Every share was deleted.",
    "sync": "Sync was asked to run now.",
    "switched": "The bundle was switched; the kiosk serves it within a few seconds.",
    "signed-out": "You are signed out.",
}


def human_bytes(value: int | None) -> str:
    if value is None:
        return "unknown"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{total} s"


def render_login(request: web.Request, *, kiosk_name: str, error: str | None = None,
                 message: str | None = None) -> str:
    """The sign-in page: one password field for the admin secret. No kiosk data."""
    return render(request, "dashboard/login.html", name=kiosk_name, error=error,
                  message=message)


@dataclass(frozen=True, slots=True)
class _Figure:
    ident: str
    label: str
    shown: str
    value: object


def _health(ov: Overview) -> dict[str, Any]:
    h = ov.health
    cpu = None if h.cpu_percent is None else f"{h.cpu_percent:.0f} %"
    if h.cpu_count and cpu:
        cpu += f" of {h.cpu_count} cores"
    temp = "no sensor" if h.temperature_c is None else f"{h.temperature_c:.1f} °C"
    mem = ("unknown" if h.memory_used_percent is None else
           f"{h.memory_used_percent:.0f} % used, {human_bytes(h.memory_available_bytes)} "
           f"free of {human_bytes(h.memory_total_bytes)}")
    low = h.disk_free_bytes is not None and h.disk_free_bytes < ov.min_free_disk_bytes
    disk = (f"{human_bytes(h.disk_free_bytes)} free of {human_bytes(h.disk_total_bytes)}"
            + (" (below the floor: new shares are refused)" if low else ""))
    load = ("unknown" if h.load is None else " · ".join(f"{x:.2f}" for x in h.load))
    rows = [
        _Figure("cpu", "CPU", cpu or "unknown", h.cpu_percent),
        _Figure("temperature", "Temperature", temp, h.temperature_c),
        _Figure("memory", "Memory", mem, h.memory_used_percent),
        _Figure("disk-free", "Free disk (data)", disk, h.disk_free_bytes),
        _Figure("load", "Load (1, 5, 15 min)", load, None if h.load is None else h.load[0]),
        _Figure("uptime", "Kiosk running for", human_duration(ov.process_uptime_s),
                round(ov.process_uptime_s)),
        _Figure("system-uptime", "Machine up for", human_duration(h.system_uptime_s),
                None if h.system_uptime_s is None else round(h.system_uptime_s)),
    ]
    return {"low": low, "rows": rows}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _key_values(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k.replace("_", " "), _value(v)) for k, v in values.items()]


def _bundle(ov: Overview) -> dict[str, Any] | None:
    if ov.bundle is None:
        return None
    return {"name": ov.bundle["name"], "profile": ov.bundle["profile"],
            "built_at": ov.bundle.get("built_at") or "?",
            "versions": sorted((ov.bundle.get("versions") or {}).items())}


def _peers(ov: Overview) -> list[dict[str, Any]]:
    """Other kiosks: name, link to their page when known, addresses, version."""
    return [{"name": p["name"], "url": p.get("url") or None,
             "addresses": ", ".join(p["addresses"]) or p["host"] or "?",
             "version": p["version"] or "?"} for p in ov.peers]


def _extra_sections(ov: Overview) -> list[dict[str, Any]]:
    return [{"key": key, "title": key.replace("_", " ").capitalize(),
             "rows": _key_values(values)}
            for key, values in sorted(ov.sections.items()) if key not in {"discovery"}]


@dataclass(frozen=True, slots=True)
class TakeHomeLink:
    """A synced share's link upstream (what students take home), for the shares table."""

    url: str
    label: str
    qr_svg: str
    up_to_date: bool


def render_dashboard(request: web.Request, ov: Overview, *, csrf: str,
                     shares: list[ShareSummary], search: str, matching: int | None,
                     qr_svg: str, join_url: str, sync_available: bool,
                     message: str | None = None, error: str | None = None,
                     take_home: dict[str, TakeHomeLink] | None = None,
                     waiting: set[str] | None = None,
                     titles: dict[str, str] | None = None,
                     refused: dict[str, str] | None = None) -> str:
    """The signed-in dashboard.

    ``take_home``: share id → its link upstream, for synced shares; ``waiting``: ids of
    shares queued to go upstream; ``refused``: share id → why the upstream will not take it.
    """
    links, queued = take_home or {}, waiting or set()
    named = titles or {}
    rows = []
    for s in shares:
        link = links.get(s.id)
        rows.append({
            "id": s.id, "readable_id": s.readable_id, "name": s.name,
            # The notebook's first heading; shown with the file name when they differ.
            "title": named.get(s.id), "stem": (s.name or "").removesuffix(".ipynb"),
            "size_text": human_bytes(s.size), "waiting": s.id in queued,
            "refused": (refused or {}).get(s.id),
            "link": None if link is None else {
                "url": link.url, "label": link.label, "qr": Markup(link.qr_svg),
                "up_to_date": link.up_to_date},
        })
    choices = [b for b in ov.bundles if b.error is None]
    switchable = len(choices) > 1 or (bool(choices) and ov.bundle is None)
    return render(
        request, "dashboard/index.html", name=ov.name, ov=ov, csrf=csrf,
        message=message, error=error, version=__version__,
        shares_today="unknown" if ov.shares_today is None else str(ov.shares_today),
        shares_total="unknown" if ov.shares_total is None else str(ov.shares_total),
        health=_health(ov), sync_enabled=bool(ov.sync.get("enabled")),
        sync_available=sync_available,
        sync_details=_key_values({k: v for k, v in ov.sync.items() if k != "enabled"}),
        bundle=_bundle(ov), bundle_error=ov.bundle_error,
        bundle_choices=choices if switchable else [],
        peers=_peers(ov), qr=Markup(qr_svg), join_url=join_url,
        extra_sections=_extra_sections(ov),
        shares=rows, search=search, matching=matching,
        # The take-home column appears once sync is on, or once any share went upstream.
        with_links=sync_available or bool(links))
