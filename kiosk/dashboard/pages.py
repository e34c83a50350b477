"""The dashboard's HTML: server-rendered, light, readable, and with no script at all.

Pages are pure functions of their inputs (an :class:`Overview`, the session's CSRF
token, a message), so tests can render them without a server. Every value is
escaped. Figures carry ``id`` and ``data-value`` attributes so tests and screen
readers can find them.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from kiosk import __version__
from kiosk.dashboard.figures import Overview
from kiosk.sharing.store import ShareSummary

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;
background:#f6f7f9;line-height:1.45}
header{background:#0b3d6e;color:#fff;padding:.6rem 1.2rem;display:flex;align-items:center;
justify-content:space-between;gap:1rem;flex-wrap:wrap}
header h1{font-size:1.3rem;margin:0}
header form{margin:0}
main{max-width:72rem;margin:0 auto;padding:1rem;display:grid;gap:1rem;
grid-template-columns:repeat(auto-fit,minmax(20rem,1fr))}
main.narrow{max-width:26rem;display:block}
section{background:#fff;border-radius:10px;padding:.8rem 1.1rem;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
section.wide{grid-column:1/-1}
h2{font-size:1.15rem;margin:.2rem 0 .6rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem;margin:0}
dt{color:#374151}
dd{margin:0;font-weight:600}
.big{font-size:2rem;font-weight:700;margin:0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #e5e7eb;vertical-align:top}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
label{font-weight:600;display:block;margin:.4rem 0 .2rem}
input[type=text],input[type=password],input[type=search],select{font-size:1rem;
padding:.4rem;border:2px solid #6b7280;border-radius:6px;box-sizing:border-box;max-width:100%}
button{font-size:1rem;padding:.4rem .9rem;border-radius:6px;border:0;background:#0b5cad;
color:#fff;font-weight:600;cursor:pointer;margin-top:.3rem}
button.danger{background:#a4161a}
button.plain{background:#fff;color:#0b3d6e}
.ok{color:#166534;font-weight:600}
.bad{color:#a4161a;font-weight:600}
.note{color:#374151;font-size:.95rem}
.msg{grid-column:1/-1;background:#e8f1fb;border-left:4px solid #0b5cad;padding:.6rem 1rem;
margin:0}
.error{background:#fdecec;border-left-color:#a4161a}
.qr svg{width:100%;max-width:14rem;height:auto;display:block}
details.take-home summary{cursor:pointer;color:#0b5cad;font-weight:600}
details.take-home summary .note{font-weight:400}
details.take-home svg{width:11rem;height:auto;display:block;background:#fff}
form.inline{display:inline}
"""

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{title}</title><style>{style}</style></head>
"""

MESSAGES = {
    "deleted": "The share was deleted.",
    "cleared": "Every share was deleted.",
    "sync": "Sync was asked to run now.",
    "switched": "The bundle was switched; the kiosk serves it within a few seconds.",
    "signed-out": "You are signed out.",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _head(title: str) -> str:
    return _HEAD.format(title=_e(title), style=STYLE)


def _csrf(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{_e(token)}">'


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


def render_login(*, kiosk_name: str, error: str | None = None,
                 message: str | None = None) -> str:
    """The sign-in page: one password field for the admin secret. No kiosk data."""
    err = f'<p class="msg error" role="alert">{_e(error)}</p>' if error else ""
    msg = f'<p class="msg" role="status">{_e(message)}</p>' if message else ""
    return _head(f"{kiosk_name}: teacher sign-in") + f"""<body>
<header><h1>{_e(kiosk_name)}: teacher's dashboard</h1></header>
<main class="narrow">{msg}{err}
<section><h2>Sign in</h2>
<form method="post" action="/admin/login">
<label for="secret">Admin secret</label>
<input type="password" id="secret" name="secret" autocomplete="current-password" required
 size="30">
<p class="note">Run <code>kiosk admin secret</code> on the kiosk to see it.</p>
<button type="submit">Sign in</button>
</form></section></main></body></html>"""


def _figure(ident: str, label: str, shown: str, value: object) -> str:
    data = "" if value is None else f' data-value="{_e(value)}"'
    return f'<dt>{_e(label)}</dt><dd id="{ident}"{data}>{_e(shown)}</dd>'


def _health(ov: Overview) -> str:
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
        _figure("cpu", "CPU", cpu or "unknown", h.cpu_percent),
        _figure("temperature", "Temperature", temp, h.temperature_c),
        _figure("memory", "Memory", mem, h.memory_used_percent),
        _figure("disk-free", "Free disk (data)", disk, h.disk_free_bytes),
        _figure("load", "Load (1, 5, 15 min)", load, None if h.load is None else h.load[0]),
        _figure("uptime", "Kiosk running for", human_duration(ov.process_uptime_s),
                round(ov.process_uptime_s)),
        _figure("system-uptime", "Machine up for", human_duration(h.system_uptime_s),
                None if h.system_uptime_s is None else round(h.system_uptime_s)),
    ]
    cls = "bad" if low else "ok"
    state = "Low on disk space" if low else "Healthy"
    return (f'<section aria-labelledby="h-health"><h2 id="h-health">Health</h2>'
            f'<p class="{cls}">{state}</p><dl>{"".join(rows)}</dl></section>')


def _class(ov: Overview) -> str:
    total = "unknown" if ov.shares_total is None else str(ov.shares_total)
    today = "unknown" if ov.shares_today is None else str(ov.shares_today)
    return (
        '<section aria-labelledby="h-class"><h2 id="h-class">Class</h2><dl>'
        + _figure("students-seen", "Students seen (last 5 min)", str(ov.students_seen),
                  ov.students_seen)
        + _figure("shares-today", "Shares today", today, ov.shares_today)
        + _figure("shares-total", "Shares in total", total, ov.shares_total)
        + '</dl><p class="note">Devices are counted in memory only; no address is kept.'
        "</p></section>")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _key_values(values: dict[str, Any]) -> str:
    if not values:
        return '<p class="note">Nothing to report.</p>'
    rows = "".join(f"<dt>{_e(k.replace('_', ' '))}</dt><dd>{_e(_value(v))}</dd>"
                   for k, v in values.items())
    return f"<dl>{rows}</dl>"


def _sync(ov: Overview, csrf: str, sync_available: bool) -> str:
    enabled = bool(ov.sync.get("enabled"))
    if enabled and sync_available:
        details = _key_values({k: v for k, v in ov.sync.items() if k != "enabled"})
        action = (f'<form method="post" action="/admin/sync-now">{_csrf(csrf)}'
                  '<button type="submit">Sync now</button></form>')
    else:
        details = ('<p class="note" id="sync-off">Sync is off on this kiosk: nothing '
                   "leaves it.</p>")
        action = ""
    state = "on" if enabled else "off"
    return (f'<section aria-labelledby="h-sync"><h2 id="h-sync">Sync</h2>'
            f'<p id="sync-state" data-value="{state}">Sync is {state}.</p>'
            f"{details}{action}</section>")


def _bundle(ov: Overview, csrf: str) -> str:
    if ov.bundle is None:
        current = '<p class="bad">No bundle is active: students cannot start Python.</p>'
    else:
        versions = "".join(f"<tr><th scope=\"row\">{_e(k)}</th><td>{_e(v)}</td></tr>"
                           for k, v in sorted((ov.bundle.get("versions") or {}).items()))
        current = (f'<p>Active: <strong id="bundle-name" data-value="{_e(ov.bundle["name"])}">'
                   f'{_e(ov.bundle["name"])}</strong> (profile {_e(ov.bundle["profile"])}, '
                   f'built {_e(ov.bundle.get("built_at") or "?")})</p>'
                   + (f"<table><caption class=\"note\">Versions</caption>"
                      f"<tbody>{versions}</tbody></table>" if versions else ""))
    error = (f'<p class="bad" role="alert">{_e(ov.bundle_error)}</p>'
             if ov.bundle_error else "")
    choices = [b for b in ov.bundles if b.error is None]
    if len(choices) > 1 or (choices and ov.bundle is None):
        options = "".join(
            f'<option value="{_e(b.name)}"{" selected" if b.active else ""}>{_e(b.name)}'
            f'{f" ({_e(b.profile)})" if b.profile else ""}{" — active" if b.active else ""}'
            "</option>" for b in choices)
        switch = (f'<form method="post" action="/admin/bundle">{_csrf(csrf)}'
                  f'<label for="bundle-select">Switch to</label>'
                  f'<select id="bundle-select" name="bundle">{options}</select> '
                  '<button type="submit">Switch bundle</button></form>')
    else:
        switch = '<p class="note">No other bundle is built.</p>'
    return (f'<section aria-labelledby="h-bundle"><h2 id="h-bundle">Bundle</h2>'
            f"{current}{error}{switch}</section>")


def _peer_name(peer: dict[str, Any]) -> str:
    """A peer kiosk's name, linked to its page when its address is known."""
    url = peer.get("url")
    if not url:
        return _e(peer["name"])
    return f'<a href="{_e(url)}" rel="noreferrer">{_e(peer["name"])}</a>'


def _network(ov: Overview) -> str:
    urls = "".join(f'<li class="mono">{_e(u)}</li>' for u in ov.urls)
    name = (f'<p>Announced as <strong class="mono">{_e(ov.host_name)}</strong></p>'
            if ov.host_name else '<p class="note">Not announced with mDNS.</p>')
    conflicts = "".join(f'<p class="bad">{_e(c)}</p>' for c in ov.conflicts)
    if ov.peers:
        rows = "".join(
            f"<tr><td>{_peer_name(p)}</td><td class=\"mono\">"
            f"{_e(', '.join(p['addresses']) or p['host'] or '?')}</td>"
            f"<td>{_e(p['version'] or '?')}</td></tr>" for p in ov.peers)
        peers = ('<table id="peers"><caption class="note">Other kiosks on the LAN</caption>'
                 '<thead><tr><th scope="col">Name</th><th scope="col">Addresses</th>'
                 f'<th scope="col">Version</th></tr></thead><tbody>{rows}</tbody></table>')
    else:
        peers = '<p class="note" id="peers">No other kiosk seen on the LAN.</p>'
    return (f'<section aria-labelledby="h-net"><h2 id="h-net">Network</h2>{name}'
            f'{f"<ul>{urls}</ul>" if urls else ""}{conflicts}{peers}</section>')


def _extra_sections(ov: Overview) -> str:
    out = []
    for key, values in sorted(ov.sections.items()):
        if key in {"discovery"}:
            continue
        title = key.replace("_", " ").capitalize()
        out.append(f'<section aria-labelledby="h-{_e(key)}"><h2 id="h-{_e(key)}">{_e(title)}'
                   f"</h2>{_key_values(values)}</section>")
    return "".join(out)


# The lesson datasets have a page of their own (kiosk/dashboard/datasets.py).
_DATASETS = ('<section aria-labelledby="h-datasets"><h2 id="h-datasets">Datasets</h2>'
             '<p>Files notebooks download, saved on the kiosk for offline lessons.</p>'
             '<p><a href="/admin/datasets" id="datasets-link">Pre-load or remove '
             'datasets</a></p></section>')


def _join(qr_svg: str, url: str) -> str:
    return ('<section class="qr" aria-labelledby="h-join"><h2 id="h-join">Join</h2>'
            f'{qr_svg}<p class="mono">{_e(url)}</p>'
            '<p><a href="/join">Open the join page for the projector</a></p></section>')


@dataclass(frozen=True, slots=True)
class TakeHomeLink:
    """A synced share's link upstream (what students take home), for the shares table."""

    url: str
    label: str
    qr_svg: str
    up_to_date: bool


def _take_home_cell(share: ShareSummary, link: TakeHomeLink | None, sync_on: bool,
                    waiting: bool) -> str:
    """The take-home link and, on click (``<details>``: no script), its QR code."""
    if link is None:
        if not sync_on:
            return '<td class="note">—</td>'
        return ('<td class="note">not sent yet</td>' if waiting else
                '<td class="note">not sent (shared before sync was turned on)</td>')
    behind = ("" if link.up_to_date else
              '<br><span class="note">a newer version is waiting to be sent</span>')
    return (f'<td><a class="mono take-home-link" href="{_e(link.url)}" rel="noreferrer">'
            f"{_e(link.label)}</a>{behind}"
            f'<details class="take-home"><summary>QR code<span class="note"> of '
            f"{_e(share.readable_id)}'s take-home link</span></summary>{link.qr_svg}"
            "</details></td>")


def _share_label(share: ShareSummary, title: str | None) -> str:
    """The notebook's title (first heading), and its file name when that differs."""
    if not title:
        return _e(share.name or "(no name)")
    if not share.name:
        return _e(title)
    if share.name.removesuffix(".ipynb") == title:  # no heading: the file name it is
        return _e(share.name)
    return f'{_e(title)}<br><span class="note mono">{_e(share.name)}</span>'


def _export_form(csrf: str) -> str:
    """End of term: download every share as a zip (deleting stays a separate step)."""
    return (f'<form method="post" action="/admin/shares/export" id="export">{_csrf(csrf)}'
            '<p class="note">End of term: download every share as a zip of notebooks, '
            "each named by its title and the student's name; then delete them below."
            '</p><button type="submit">Download all shares (zip)</button></form>')


def _shares(shares: list[ShareSummary], search: str, matching: int | None,
            csrf: str, *, take_home: dict[str, TakeHomeLink] | None = None,
            sync_on: bool = False, waiting: set[str] | None = None,
            titles: dict[str, str] | None = None) -> str:
    links, queued = take_home or {}, waiting or set()
    named = titles or {}
    # The take-home column appears once sync is on, or once any share went upstream.
    with_links = sync_on or bool(links)
    rows = []
    for s in shares:
        label = _share_label(s, named.get(s.id))
        upstream = (_take_home_cell(s, links.get(s.id), sync_on, s.id in queued)
                    if with_links else "")
        rows.append(
            f'<tr><td><a href="/s/{_e(s.readable_id)}">{_e(s.readable_id)}</a></td>'
            f"<td>{label}</td><td>{_e(human_bytes(s.size))}</td>{upstream}"
            f'<td><form class="inline" method="post" action="/admin/shares/{_e(s.id)}/delete">'
            f'{_csrf(csrf)}<button type="submit" class="danger" '
            f'aria-label="Delete {_e(s.readable_id)}">Delete</button></form></td></tr>')
    upstream_head = '<th scope="col">Take-home link</th>' if with_links else ""
    table = ('<table id="shares"><thead><tr><th scope="col">Code</th><th scope="col">Name'
             f'</th><th scope="col">Size</th>{upstream_head}<th scope="col">Action</th>'
             f'</tr></thead><tbody>{"".join(rows)}</tbody></table>') if rows else (
        '<p class="note" id="shares">No shares match.</p>' if search else
        '<p class="note" id="shares">No shares yet.</p>')
    shown = ("" if matching is None else
             f'<p class="note">{len(shares)} shown of {matching} matching.</p>')
    return f"""<section class="wide" aria-labelledby="h-shares"><h2 id="h-shares">Shares</h2>
<form method="get" action="/admin" role="search"><label for="q">Search by code or name</label>
<input type="search" id="q" name="q" value="{_e(search)}"> <button type="submit">Search
</button></form>{shown}{table}
{_export_form(csrf) if shares or search else ""}
<form method="post" action="/admin/shares/clear">{_csrf(csrf)}
<label for="confirm">To delete every share, type CLEAR</label>
<input type="text" id="confirm" name="confirm" autocomplete="off" pattern="CLEAR" required>
<button type="submit" class="danger">Delete all shares</button></form></section>"""


def render_dashboard(ov: Overview, *, csrf: str, shares: list[ShareSummary], search: str,
                     matching: int | None, qr_svg: str, join_url: str,
                     sync_available: bool, message: str | None = None,
                     error: str | None = None,
                     take_home: dict[str, TakeHomeLink] | None = None,
                     waiting: set[str] | None = None,
                     titles: dict[str, str] | None = None) -> str:
    """The signed-in dashboard.

    ``take_home``: share id → its link upstream, for synced shares; ``waiting``: ids of
    shares queued to go upstream.
    """
    msg = f'<p class="msg" role="status">{_e(message)}</p>' if message else ""
    err = f'<p class="msg error" role="alert">{_e(error)}</p>' if error else ""
    return _head(f"{ov.name}: teacher's dashboard") + f"""<body>
<header><h1>{_e(ov.name)}: teacher's dashboard</h1>
<form method="post" action="/admin/logout">{_csrf(csrf)}
<button type="submit" class="plain">Sign out</button></form></header>
<main>{msg}{err}
{_class(ov)}{_health(ov)}{_sync(ov, csrf, sync_available)}{_bundle(ov, csrf)}
{_network(ov)}{_join(qr_svg, join_url)}{_DATASETS}{_extra_sections(ov)}
{_shares(shares, search, matching, csrf, take_home=take_home, sync_on=sync_available,
         waiting=waiting, titles=titles)}
</main><footer class="note" style="text-align:center;padding:1rem">kiosk {_e(__version__)}
</footer></body></html>"""
