"""``/s/<readable id>``: a light, read-only page of a share, rendered on the server.

A phone shows it in about a second without loading Pyodide. The notebook goes
through nbconvert's HTML exporter (basic template) on one worker thread, the result
is cleaned by an allowlist (scripts, frames, event handlers, ``javascript:`` and
non-image ``data:`` URLs removed; images kept) and cached per (share id, version).
The page also carries a CSP that allows no script at all, so even a sanitiser miss
cannot run. It links to the notebook in JupyterLite and shows the QR of its own URL.
"""

from __future__ import annotations

import asyncio
import html
from urllib.parse import quote

from aiohttp import web

from kiosk.errors import NotFound
from kiosk.qr import qr_svg
from kiosk.sharing.keys import SHARING
from kiosk.sharing.upstream import upstream_ref

VIEW_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "script-src 'none'; object-src 'none'; frame-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}}
header{{display:flex;flex-wrap:wrap;gap:1em;align-items:center;justify-content:space-between;
padding:.75em 1em;background:#f3f5f8;border-bottom:1px solid #d8dde5}}
header h1{{font-size:1.2em;margin:0}} header .rid{{font-family:monospace;color:#445}}
a.open{{display:inline-block;padding:.5em 1em;background:#1f5fbf;color:#fff;border-radius:6px;
text-decoration:none;font-weight:600}}
main{{max-width:60em;margin:0 auto;padding:1em}}
.qr{{width:9em;height:9em}} figure{{margin:0;text-align:center}}
figcaption{{font-size:.8em;color:#555}}
.jp-Cell,.cell{{margin:.75em 0}}
.highlight,.input_area,.jp-InputArea-editor{{background:#f6f8fa;border:1px solid #e1e4e8;
border-radius:4px;overflow-x:auto}}
pre{{margin:0;padding:.5em;overflow-x:auto;font-size:.9em}}
.output_area pre,.jp-OutputArea-output pre{{background:none;border:0}}
.output_stderr,.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]{{
background:#fdd}}
img{{max-width:100%;height:auto}} table{{border-collapse:collapse;font-size:.9em}}
td,th{{border:1px solid #ccc;padding:.2em .5em}} .anchor-link{{display:none}}
{pygments}
</style></head>
<body><header><div><h1>{title}</h1><div class="rid">{rid}</div></div>
<a class="open" href="{lab}">Open in JupyterLite</a>
<figure><div class="qr">{qr}</div><figcaption>Scan to open this page</figcaption></figure>
{upstream}</header>
<main>{body}</main></body></html>
"""


_UPSTREAM = """<figure class="upstream"><div class="qr">{qr}</div><figcaption>To take home:
<a href="{url}" rel="noreferrer">{label}</a></figcaption></figure>
"""


def upstream_lab_url(upstream: str, upstream_id: str, readable_id: str | None) -> str:
    """The take-home link of a synced share: the upstream site's JupyterLite.

    ``upstream`` is the API base (``https://host/api/v1``); the site is its origin.
    """
    origin = upstream.split("/api/", 1)[0].rstrip("/")
    return f"{origin}/lab/index.html?notebook={quote(readable_id or upstream_id)}"


async def _upstream_block(request: web.Request, share_id: str) -> str:
    ref = await upstream_ref(request.app, share_id)
    if ref is None:
        return ""
    url = upstream_lab_url(ref.upstream, ref.upstream_id, ref.upstream_readable_id)
    qr = await asyncio.to_thread(qr_svg, url, border=2, title="QR code of the take-home link")
    return _UPSTREAM.format(qr=qr, url=html.escape(url),
                            label=html.escape(ref.upstream_readable_id or ref.upstream_id))


async def share_page(request: web.Request) -> web.Response:
    """``GET /s/{readable_id}``: the read-only page of one share."""
    service = request.app[SHARING]
    ref = request.match_info["readable_id"]
    share = await service.store.get_by_readable_id(ref)
    if share is None:
        raise NotFound(f"There is no shared notebook '{ref.strip()}' on this kiosk. "
                       "Check the spelling of the link.")
    body = await service.renderer.render(share)
    own_url = str(request.url.with_query(None).with_fragment(None))
    css = await service.renderer.css()
    qr = await asyncio.to_thread(qr_svg, own_url, border=2, title="QR code of this page")
    page = _PAGE.format(
        title=html.escape(share.name or share.readable_id), rid=html.escape(share.readable_id),
        lab=html.escape(f"/lab/index.html?notebook={quote(share.readable_id)}"),
        qr=qr, body=body, pygments=css, upstream=await _upstream_block(request, share.id))
    response = web.Response(text=page, content_type="text/html")
    response.headers["Content-Security-Policy"] = VIEW_CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


def routes() -> list[web.RouteDef]:
    return [web.get("/s/{readable_id}", share_page, allow_head=False)]
