"""What every dashboard action checks first: a signed-in teacher and a CSRF-safe form."""

from __future__ import annotations

from aiohttp import web

from kiosk.dashboard import auth, csrf
from kiosk.dashboard.keys import SESSIONS
from kiosk.errors import Forbidden


def require_session(request: web.Request) -> auth.Session:
    """The teacher's session, or 403 saying how to sign in again."""
    session = auth.current_session(request, request.app[SESSIONS])
    if session is None:
        raise Forbidden("You are not signed in to the dashboard (or your session ended); "
                        "sign in again at /admin.")
    return session


async def checked_form(request: web.Request) -> tuple[auth.Session, dict[str, str]]:
    """The session and the form's text fields, after every CSRF check."""
    session = require_session(request)
    form = await request.post()
    csrf.check_form(request, session, form.get(csrf.FIELD))
    return session, {k: v for k, v in form.items() if isinstance(v, str)}
