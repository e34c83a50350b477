"""``/s/<readable id>``: a light, read-only page of a share, rendered on the server.

A phone shows it in about a second without loading Pyodide. The notebook goes
through nbconvert's HTML exporter (basic template) on one worker thread, the result
is cleaned by an allowlist (scripts, frames, event handlers, ``javascript:`` and
non-image ``data:`` URLs removed; images kept) and cached per (share id, version).
The page (template ``share.html``) carries a CSP that allows no script at all, so even
a sanitiser miss cannot run. It links to the notebook in JupyterLite and shows the QR
of its own URL. A code that matches no share gets a page about codes with the code box
again (404); a notebook that cannot be rendered gets one sentence instead of its body.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from aiohttp import web

from kiosk.errors import NotFound
from kiosk.middleware import wants_json
from kiosk.qr import qr_svg
from kiosk.sharing.keys import SHARING
from kiosk.sharing.upstream import upstream_ref
from kiosk.templating import Markup, html_response

_LOGGER = logging.getLogger(__name__)

def upstream_lab_url(site: str, upstream_id: str, readable_id: str | None) -> str:
    """The take-home link of a synced share: the upstream's public site's JupyterLite.

    ``site`` is that site (``UpstreamRef.site``; see :mod:`kiosk.sync.site`), which is
    not always the API's origin. The form is the one Jupyter Everywhere's own share
    links have: ``<site>/lab/index.html?notebook=<readable id>``.
    """
    return f"{site.rstrip('/')}/lab/index.html?notebook={quote(readable_id or upstream_id)}"


async def _upstream_block(request: web.Request, share_id: str) -> dict[str, object] | None:
    ref = await upstream_ref(request.app, share_id)
    if ref is None or ref.site is None:  # not synced, or its site is unknown: no link
        return None
    url = upstream_lab_url(ref.site, ref.upstream_id, ref.upstream_readable_id)
    qr = await asyncio.to_thread(qr_svg, url, border=2, title="QR code of the take-home link")
    return {"qr": Markup(qr), "url": url,
            "label": ref.upstream_readable_id or ref.upstream_id}


def _missing(request: web.Request, ref: str) -> web.Response:
    """No share has this code: a page about codes, with the code box again (404)."""
    if wants_json(request):
        raise NotFound(f"There is no shared notebook '{ref.strip()}' on this kiosk.")
    return html_response(request, "share_missing.html", status=404,
                         headers={"Cache-Control": "no-cache"}, code=ref.strip()[:100])


async def share_page(request: web.Request) -> web.Response:
    """``GET /s/{readable_id}``: the read-only page of one share."""
    service = request.app[SHARING]
    ref = request.match_info["readable_id"]
    share = await service.store.get_by_readable_id(ref)
    if share is None:
        return _missing(request, ref)
    body: Markup | None
    try:
        body = Markup(await service.renderer.render(share))
    except Exception:  # a damaged or oversized notebook: one sentence, not a 500
        _LOGGER.warning("share %s (version %d) cannot be shown", share.id, share.version,
                        exc_info=True)
        body = None
    own_url = str(request.url.with_query(None).with_fragment(None))
    css = await service.renderer.css()
    qr = await asyncio.to_thread(qr_svg, own_url, border=2, title="QR code of this page")
    return html_response(
        request, "share.html", headers={"Cache-Control": "no-cache"}, inline_styles=True,
        forms=False, title=share.name or share.readable_id, readable_id=share.readable_id,
        lab_url=f"/lab/index.html?notebook={quote(share.readable_id)}", qr=Markup(qr),
        body=body, pygments_css=Markup(css),
        upstream=await _upstream_block(request, share.id))


def routes() -> list[web.RouteDef]:
    return [web.get("/s/{readable_id}", share_page, allow_head=False)]
