"""The dashboard's pages: server-rendered, light, readable, and with no script at all.

The templates are ``kiosk/templates/dashboard/``; this module turns an
:class:`Overview` into what they show (figures in words, tables as rows). Every value
is escaped by the templates. Figures carry ``id`` and ``data-value`` attributes so
tests and screen readers can find them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kiosk import __version__
from kiosk.dashboard.figures import Overview
from kiosk.dashboard.lesson import LessonView
from kiosk.i18n import LANGUAGE_PIN, N_, language_choices
from kiosk.sharing.store import ShareSummary
from kiosk.templating import Markup, gettext_for, render

# Shown translated (the templates pass them through the catalogs).
MESSAGES = {
    "deleted": N_("The share was deleted."),
    "cleared": N_("Every share was deleted."),
    "sync": N_("Sync was asked to run now."),
    "switched": N_("The bundle was switched; the kiosk serves it within a few seconds."),
    "signed-out": N_("You are signed out."),
    "language": N_("The language of the kiosk's pages was changed."),
    "lesson": N_("The lesson of the day was changed: \"Start coding\" opens it now."),
}

Gettext = Callable[[str], str]


def _same(message: str) -> str:
    return message


def human_bytes(value: int | None, _: Gettext = _same) -> str:
    if value is None:
        return _("unknown")
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def human_duration(seconds: float | None, _: Gettext = _same) -> str:
    if seconds is None:
        return _("unknown")
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("%(seconds)d s") % {"seconds": total}


def saved_at(timestamp: float) -> str:
    """When a share was saved, in the kiosk's local time: ``09:14`` today, else the date."""
    moment = time.localtime(timestamp)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", moment)
    return time.strftime("%Y-%m-%d %H:%M", moment)


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


def _health(ov: Overview, _: Gettext) -> dict[str, Any]:
    h = ov.health
    unknown = _("unknown")
    cpu = None if h.cpu_percent is None else f"{h.cpu_percent:.0f} %"
    if h.cpu_count and cpu:
        cpu = _("%(percent)s of %(cores)d cores") % {"percent": cpu, "cores": h.cpu_count}
    temp = _("no sensor") if h.temperature_c is None else f"{h.temperature_c:.1f} °C"
    mem = (unknown if h.memory_used_percent is None else
           _("%(percent)s used, %(free)s free of %(total)s") % {
               "percent": f"{h.memory_used_percent:.0f} %",
               "free": human_bytes(h.memory_available_bytes, _),
               "total": human_bytes(h.memory_total_bytes, _)})
    low = h.disk_free_bytes is not None and h.disk_free_bytes < ov.min_free_disk_bytes
    disk = _("%(free)s free of %(total)s") % {"free": human_bytes(h.disk_free_bytes, _),
                                              "total": human_bytes(h.disk_total_bytes, _)}
    if low:
        disk += " " + _("(below the floor: new shares are refused)")
    load = (unknown if h.load is None else " · ".join(f"{x:.2f}" for x in h.load))
    rows = [
        _Figure("cpu", _("CPU"), cpu or unknown, h.cpu_percent),
        _Figure("temperature", _("Temperature"), temp, h.temperature_c),
        _Figure("memory", _("Memory"), mem, h.memory_used_percent),
        _Figure("disk-free", _("Free disk (data)"), disk, h.disk_free_bytes),
        _Figure("load", _("Load (1, 5, 15 min)"), load,
                None if h.load is None else h.load[0]),
        _Figure("uptime", _("Kiosk running for"), human_duration(ov.process_uptime_s, _),
                round(ov.process_uptime_s)),
        _Figure("system-uptime", _("Machine up for"), human_duration(h.system_uptime_s, _),
                None if h.system_uptime_s is None else round(h.system_uptime_s)),
    ]
    return {"low": low, "rows": rows}


def _value(value: Any, _: Gettext) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _key_values(values: dict[str, Any], _: Gettext) -> list[tuple[str, str]]:
    return [(k.replace("_", " "), _value(v, _)) for k, v in values.items()]


#: the packages a lesson names, shown in the short versions table when the bundle has them
KEY_PACKAGES = ("numpy", "pandas", "matplotlib", "scipy", "scikit-learn", "sympy")
#: the short table's labels for the bundle's own components (others keep their key)
_COMPONENTS = {"python": "Python", "pyodide": "Pyodide", "jupyterlite_core": "JupyterLite",
               "pyodide_kernel": "Pyodide kernel"}


def bundle_view(ov: Overview) -> dict[str, Any] | None:
    """The active bundle, its versions as a short table and every package apart."""
    if ov.bundle is None:
        return None
    versions: dict[str, Any] = ov.bundle.get("versions") or {}
    listed = versions.get("packages")
    packages: dict[str, Any] = listed if isinstance(listed, dict) else {}
    order = list(_COMPONENTS)
    # The bundle's components first, in a fixed order; any other plain entry after them.
    short = [(_COMPONENTS.get(k, k), str(v)) for k, v in sorted(
        versions.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
        if not isinstance(v, dict | list)]
    short += [(name, str(packages[name])) for name in KEY_PACKAGES if name in packages]
    return {"name": ov.bundle["name"], "profile": ov.bundle["profile"],
            "built_at": ov.bundle.get("built_at") or "?", "versions": short,
            "packages": sorted(((k, str(v)) for k, v in packages.items()),
                               key=lambda kv: kv[0].casefold())}


def _peers(ov: Overview) -> list[dict[str, Any]]:
    """Other kiosks: name, link to their page when known, addresses, version."""
    return [{"name": p["name"], "url": p.get("url") or None,
             "addresses": ", ".join(p["addresses"]) or p["host"] or "?",
             "version": p["version"] or "?"} for p in ov.peers]


def is_off(values: dict[str, Any]) -> bool:
    """Whether a status section is of a feature that is off (``enabled`` or ``up`` false):
    the dashboard collapses it to one line."""
    return values.get("enabled") is False or values.get("up") is False


def _extra_sections(ov: Overview, _: Gettext) -> list[dict[str, Any]]:
    return [{"key": key, "title": key.replace("_", " ").capitalize(),
             "rows": _key_values(values, _), "off": is_off(values)}
            for key, values in sorted(ov.sections.items()) if key not in {"discovery"}]


@dataclass(frozen=True, slots=True)
class TakeHomeLink:
    """A synced share's link upstream (what students take home), for the shares table.

    ``url`` None: sent, but the upstream's public site is unknown (no link to show).
    """

    url: str | None
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
                     refused: dict[str, str] | None = None,
                     lesson: LessonView | None = None) -> str:
    """The signed-in dashboard.

    ``take_home``: share id → its link upstream, for synced shares; ``waiting``: ids of
    shares queued to go upstream; ``refused``: share id → why the upstream will not take it.
    """
    pin = request.app.get(LANGUAGE_PIN)
    language_pin = pin.language if pin is not None else None
    _ = gettext_for(request).gettext
    links, queued = take_home or {}, waiting or set()
    named = titles or {}
    rows = []
    for s in shares:
        link = links.get(s.id)
        rows.append({
            "id": s.id, "readable_id": s.readable_id, "name": s.name,
            # The notebook's first heading; shown with the file name when they differ.
            "title": named.get(s.id), "stem": (s.name or "").removesuffix(".ipynb"),
            # What the student typed in the Share dialog (escaped by the template).
            "student": s.student_name, "saved": saved_at(s.updated_at),
            "saved_iso": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(s.updated_at)),
            "size_text": human_bytes(s.size, _), "waiting": s.id in queued,
            "refused": (refused or {}).get(s.id),
            "link": None if link is None else {
                "url": link.url, "label": link.label, "qr": Markup(link.qr_svg),
                "up_to_date": link.up_to_date},
        })
    copies = [{
        "readable_id": c.readable_id, "student": c.student_name,
        "title": named.get(c.id) or (c.name or "").removesuffix(".ipynb"),
        "saved": saved_at(c.updated_at),
        "saved_iso": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(c.updated_at)),
    } for c in (lesson.copies if lesson is not None else [])]
    # Side by side in the order a teacher scans a class list: by name, nameless last.
    copies.sort(key=lambda c: (c["student"] is None, (c["student"] or "").casefold()))
    choices = [b for b in ov.bundles if b.error is None]
    switchable = len(choices) > 1 or (bool(choices) and ov.bundle is None)
    return render(
        request, "dashboard/index.html", name=ov.name, ov=ov, csrf=csrf,
        message=message, error=error, version=__version__,
        shares_today=_("unknown") if ov.shares_today is None else str(ov.shares_today),
        shares_total=_("unknown") if ov.shares_total is None else str(ov.shares_total),
        health=_health(ov, _), sync_enabled=bool(ov.sync.get("enabled")),
        sync_available=sync_available,
        sync_details=_key_values({k: v for k, v in ov.sync.items() if k != "enabled"}, _),
        bundle=bundle_view(ov), bundle_error=ov.bundle_error,
        bundle_choices=choices if switchable else [],
        peers=_peers(ov), qr=Markup(qr_svg), join_url=join_url,
        extra_sections=_extra_sections(ov, _), language_pin=language_pin,
        languages=language_choices(),
        shares=rows, search=search, matching=matching, lesson=lesson, lesson_copies=copies,
        # The take-home column appears once sync is on, or once any share went upstream.
        with_links=sync_available or bool(links))
