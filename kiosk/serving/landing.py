"""The kiosk's own start page at ``/`` (template ``landing.html``): light, no JavaScript.

It offers "Start coding", a box to open a shared notebook by its code or link, and a
QR code of the kiosk's IP-literal URL (the address this viewer reached us by), so a
student can pass the kiosk on to the next one.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

from aiohttp import web

from kiosk import __version__, i18n
from kiosk.errors import BadRequest
from kiosk.i18n import N_, language_choices
from kiosk.keys import CONFIG
from kiosk.qr import qr_svg
from kiosk.serving.state import BUNDLE_STATE
from kiosk.templating import Markup, html_response
from kiosk.urls import viewer_url

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
        raise BadRequest(N_("That does not look like a notebook code. Codes look like "
                            "'calm-blue-otter-42'; ask for the code or scan the QR code."))
    return text.lower()


def render_landing(request: web.Request, *, error: str | None = None,
                   status: int = 200) -> web.Response:
    """The start page (template ``landing.html``), with ``error`` above the code box."""
    config = request.app[CONFIG]
    url = viewer_url(request)
    response = html_response(
        request, "landing.html", status=status, headers={"Cache-Control": "no-cache"},
        name=config.name, bundle_ready=request.app[BUNDLE_STATE].index is not None,
        error=error, data_note=config.data_note or None, url=url, version=__version__,
        qr=Markup(qr_svg(url, title=f"QR code for {url}")), languages=language_choices())
    chosen = i18n.known(request.query.get(i18n.QUERY))
    if chosen is not None:
        # The student's choice, remembered by this browser: the code and nothing else.
        response.set_cookie(i18n.COOKIE, chosen, max_age=365 * 24 * 3600, path="/",
                            httponly=True, samesite="Lax")
    return response


async def landing(request: web.Request) -> web.Response:
    """GET /: the start page."""
    return render_landing(request)


async def open_shared(request: web.Request) -> web.Response:
    """GET /open?code=…: go to the read-only view of a shared notebook."""
    try:
        code = normalise_code(request.query.get("code", ""))
    except BadRequest as exc:
        return render_landing(request, error=exc.message, status=400)
    raise web.HTTPSeeOther(f"/s/{quote(code)}")
