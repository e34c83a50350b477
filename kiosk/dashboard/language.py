"""``POST /admin/language``: the teacher pins the language of the kiosk's pages.

``language`` is a code of :data:`kiosk.i18n.LANGUAGES`, or ``auto`` (each browser's
own). The choice is saved in ``<data_dir>/language`` and wins over the ``language``
setting, also after a restart (see :class:`kiosk.i18n.LanguagePin`).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from kiosk.dashboard import auth, csrf
from kiosk.dashboard.keys import SESSIONS
from kiosk.errors import BadRequest, Forbidden
from kiosk.i18n import LANGUAGE_PIN, LANGUAGES

_NO_STORE = {"Cache-Control": "no-store"}


async def pin_language(request: web.Request) -> web.StreamResponse:
    session = auth.current_session(request, request.app[SESSIONS])
    if session is None:
        raise Forbidden("You are not signed in to the dashboard (or your session ended); "
                        "sign in again at /admin.")
    form = await request.post()
    csrf.check_form(request, session, form.get(csrf.FIELD))
    choice = form.get("language")
    if choice != "auto" and choice not in LANGUAGES:
        raise BadRequest("Pick a language from the list.")
    pin = request.app[LANGUAGE_PIN]
    await asyncio.to_thread(pin.save, None if choice == "auto" else str(choice))
    raise web.HTTPSeeOther("/admin?msg=language", headers=_NO_STORE)


def routes() -> list[web.RouteDef]:
    return [web.post("/admin/language", pin_language, name="admin_language")]
