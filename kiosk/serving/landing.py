"""The kiosk's own start page at ``/``: light, readable on a phone, no JavaScript.

It offers "Start coding", a box to open a shared notebook by its code or link, and a
QR code of the kiosk's IP-literal URL (the address this viewer reached us by), so a
student can pass the kiosk on to the next one.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, quote, urlsplit

from aiohttp import web

from kiosk import __version__
from kiosk.errors import BadRequest
from kiosk.keys import CONFIG
from kiosk.qr import qr_svg
from kiosk.serving.state import BUNDLE_STATE
from kiosk.urls import viewer_url

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;
background:#f6f7f9;line-height:1.45}
main{max-width:34rem;margin:0 auto;padding:1.2rem}
h1{font-size:1.7rem;margin:.4rem 0 1rem}
.card{background:#fff;border-radius:12px;padding:1rem 1.2rem;margin:0 0 1rem;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
.start{display:block;text-align:center;background:#0b5cad;color:#fff;font-size:1.35rem;
font-weight:600;padding:1rem;border-radius:10px;text-decoration:none}
.start:focus,.start:hover{background:#084a8c}
label{display:block;font-weight:600;margin-bottom:.4rem}
input[type=text]{width:100%;box-sizing:border-box;font-size:1.15rem;padding:.6rem;
border:2px solid #6b7280;border-radius:8px}
button{margin-top:.6rem;font-size:1.1rem;padding:.55rem 1.2rem;border-radius:8px;
border:0;background:#1f7a3f;color:#fff;font-weight:600}
.qr svg{width:100%;max-width:15rem;height:auto;display:block;margin:0 auto}
.url{font-family:ui-monospace,monospace;font-size:1.1rem;text-align:center;word-break:break-all}
.note{font-size:.95rem;color:#374151}
.error{color:#a4161a;font-weight:600}
footer{font-size:.8rem;color:#4b5563;text-align:center}
"""

# Ids are letters, digits and dashes; a pasted link carries one in ?notebook= or /s/<id>.
_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,99}")


def normalise_code(raw: str) -> str:
    """Turn what a student typed or pasted (a code or a whole link) into a share id."""
    text = raw.strip()
    if "://" in text or text.startswith("/"):
        parts = urlsplit(text)
        found = parse_qs(parts.query).get("notebook")
        if found:
            text = found[0]
        elif "/s/" in parts.path:
            text = parts.path.rsplit("/s/", 1)[1]
        else:
            text = ""
    text = text.strip().strip("/")
    if text.lower().endswith(".ipynb"):
        text = text[: -len(".ipynb")]
    text = "-".join(text.split())  # "blue happy otter 12" read aloud → blue-happy-otter-12
    if not _CODE_RE.fullmatch(text):
        raise BadRequest("That does not look like a notebook code. Codes look like "
                         "'calm-blue-otter-42'; ask for the code or scan the QR code.")
    return text.lower()


def render_landing(request: web.Request, *, error: str | None = None) -> str:
    config = request.app[CONFIG]
    state = request.app[BUNDLE_STATE]
    url = viewer_url(request)
    name = html.escape(config.name)
    if state.index is not None:
        start = '<a class="start" href="/lab/index.html">Start coding</a>'
    else:
        start = ('<p class="error">Python is not installed on this kiosk yet. '
                 'Ask your teacher to run <code>make bundle</code>.</p>')
    err = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    note = (f'<p class="note">{html.escape(config.data_note)}</p>'
            if config.data_note else "")
    qr = qr_svg(url, title=f"QR code for {url}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{name}: Python in your browser</title><style>{STYLE}</style></head>
<body><main>
<h1>{name}</h1>
<div class="card">{start}
<p class="note">Python runs inside your browser. Your work is kept in this browser on this
device: use <strong>Share</strong> in the notebook to keep a copy on the kiosk.</p>{note}</div>
<div class="card"><form action="/open" method="get">
<label for="code">Open a shared notebook</label>{err}
<input type="text" id="code" name="code" autocomplete="off" autocapitalize="none"
 spellcheck="false" placeholder="calm-blue-otter-42" required>
<button type="submit">Open</button></form></div>
<div class="card qr"><p class="note">Others join by scanning this code or typing:</p>
{qr}<p class="url">{html.escape(url)}</p></div>
<footer>{name} · kiosk {__version__} · no internet needed, nothing is tracked</footer>
</main></body></html>"""


async def landing(request: web.Request) -> web.Response:
    """GET /: the start page."""
    return web.Response(text=render_landing(request), content_type="text/html",
                        headers={"Cache-Control": "no-cache"})


async def open_shared(request: web.Request) -> web.Response:
    """GET /open?code=…: go to the read-only view of a shared notebook."""
    try:
        code = normalise_code(request.query.get("code", ""))
    except BadRequest as exc:
        return web.Response(status=400, text=render_landing(request, error=exc.message),
                            content_type="text/html")
    raise web.HTTPSeeOther(f"/s/{quote(code)}")
