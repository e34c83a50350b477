"""Forged-form protection for the dashboard's POST actions.

Three layers, any failure being a 403 that changes nothing:

1. the session cookie is ``SameSite=Strict``: another site's form does not carry it;
2. every form holds the session's CSRF token in a hidden ``csrf`` field, compared
   with :func:`hmac.compare_digest`;
3. the ``Origin`` header (or, without one, the ``Referer``) must name this kiosk's
   own origin when the browser sends it.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import web

from kiosk.dashboard.auth import Session
from kiosk.errors import Forbidden

FIELD = "csrf"


def own_origin(request: web.Request) -> str:
    """``http://192.0.2.1:8000``: the origin the browser used to reach this page."""
    return f"{request.scheme}://{request.host}".lower()


def check_origin(request: web.Request) -> None:
    """Refuse a cross-origin POST (a missing header is allowed: old or non-browser clients)."""
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin.lower() != own_origin(request):
            raise Forbidden("This form was sent from another site; it was refused.")
        return
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        if f"{parts.scheme}://{parts.netloc}".lower() != own_origin(request):
            raise Forbidden("This form was sent from another site; it was refused.")


def check_form(request: web.Request, session: Session, token: object) -> None:
    """Origin check plus the session's token (the form's ``csrf`` field); else 403."""
    check_origin(request)
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(),
                                                             session.csrf.encode()):
        raise Forbidden("This form has expired or was not made by the dashboard; reload "
                        "the dashboard and try again.")
