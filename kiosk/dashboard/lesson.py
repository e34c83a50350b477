"""The lesson of the day on the dashboard: pick it, and see the class's copies of it.

``POST /admin/lesson`` with ``lesson=<content path>`` (one of the active bundle's
notebooks) or ``lesson=`` (the bundle's own lesson) saves the choice through
:class:`kiosk.serving.lesson.LessonPin`; ``jupyter-lite.json`` answers carry it from then
on, so "Start coding" opens it.

**How a share is linked to the lesson: by its file name.** The extension opens the
lesson at its content path, the student's edits are saved under that same name in the
browser, and every share records it (JE's ``metadata.sharedName``, kept as the share's
``name``). Matching on it needs nothing new from the extension or from JE clients, works
for shares made before this feature and for older extension builds, and is what the
teacher sees too ("Rainfall.ipynb"). A student who renames the notebook or shares
"Untitled.ipynb" is not grouped under the lesson, but still listed with every share
below. Copies are grouped like Capytale's activity view: one card per student's copy,
side by side, each opening read-only at ``/s/<code>``. When the bundle's own lesson is
the lesson of the day, its translations (``Bienvenue.ipynb``...: what students whose
pages are in another language get) count as copies of it too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from kiosk.dashboard.forms import checked_form
from kiosk.errors import BadRequest
from kiosk.serving.lesson import (
    LESSON_PIN,
    bundle_lesson,
    lesson_choices,
    lesson_of_the_day,
    lesson_translations,
    pinned_lesson,
)
from kiosk.serving.state import BUNDLE_STATE
from kiosk.sharing.keys import STORE
from kiosk.sharing.store import ShareSummary

_NO_STORE = {"Cache-Control": "no-store"}
#: copies shown under the lesson at most (a class, with room to spare)
COPIES_SHOWN = 200


@dataclass(frozen=True, slots=True)
class LessonView:
    """What the dashboard's lesson section shows."""

    lesson: str
    pinned: bool
    bundle_lesson: str
    choices: list[str]
    copies: list[ShareSummary]
    #: language code → the lesson in that language (when the bundle's own lesson is on)
    translations: dict[str, str]


def file_name(path: str) -> str:
    """The name a share of the notebook at ``path`` carries (its last part)."""
    return path.rsplit("/", 1)[-1]


async def lesson_view(app: web.Application) -> LessonView:
    """The lesson of the day, the choices, and the class's shared copies of it."""
    index = app[BUNDLE_STATE].index if BUNDLE_STATE in app else None
    lesson = lesson_of_the_day(app)
    pinned = pinned_lesson(app) is not None
    translations = {} if pinned else lesson_translations(index)
    names = dict.fromkeys(file_name(p) for p in [lesson, *translations.values()])
    copies: list[ShareSummary] = []
    for name in names:
        copies += await app[STORE].list_named(name, limit=COPIES_SHOWN)
    copies.sort(key=lambda c: (-c.updated_at, c.id))
    return LessonView(lesson=lesson, pinned=pinned, bundle_lesson=bundle_lesson(index),
                      choices=lesson_choices(index), copies=copies[:COPIES_SHOWN],
                      translations=translations)


async def pick_lesson(request: web.Request) -> web.StreamResponse:
    """``POST /admin/lesson``: pin one of the bundle's notebooks (empty: the bundle's own)."""
    _session, form = await checked_form(request)
    choice = form.get("lesson")
    if not isinstance(choice, str):
        raise BadRequest("Pick a lesson from the list.")
    index = request.app[BUNDLE_STATE].index
    if choice and choice not in lesson_choices(index):
        raise BadRequest("Pick a lesson from the list: that notebook is not in the "
                         "active bundle.")
    await asyncio.to_thread(request.app[LESSON_PIN].save, choice or None)
    raise web.HTTPSeeOther("/admin?msg=lesson#h-lesson", headers=_NO_STORE)


def routes() -> list[web.RouteDef]:
    return [web.post("/admin/lesson", pick_lesson, name="admin_lesson")]
