"""``POST /admin/language``: the teacher pins the language of the kiosk's pages.

``language`` is a code of :data:`kiosk.i18n.LANGUAGES`, or ``auto`` (each browser's
own). The choice is saved in ``<data_dir>/language`` and wins over the ``language``
setting, also after a restart (see :class:`kiosk.i18n.LanguagePin`).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from kiosk.dashboard.forms import checked_form
from kiosk.errors import BadRequest
from kiosk.i18n import LANGUAGE_PIN, LANGUAGES

_NO_STORE = {"Cache-Control": "no-store"}


async def pin_language(request: web.Request) -> web.StreamResponse:
    _session, form = await checked_form(request)
    choice = form.get("language")
    if choice != "auto" and choice not in LANGUAGES:
        raise BadRequest("Pick a language from the list.")
    pin = request.app[LANGUAGE_PIN]
    await asyncio.to_thread(pin.save, None if choice == "auto" else str(choice))
    raise web.HTTPSeeOther("/admin?msg=language", headers=_NO_STORE)


def routes() -> list[web.RouteDef]:
    return [web.post("/admin/language", pin_language, name="admin_language")]
