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
side by side, each opening read-only at ``/s/<code>``.
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


def file_name(path: str) -> str:
    """The name a share of the notebook at ``path`` carries (its last part)."""
    return path.rsplit("/", 1)[-1]


async def lesson_view(app: web.Application) -> LessonView:
    """The lesson of the day, the choices, and the class's shared copies of it."""
    index = app[BUNDLE_STATE].index if BUNDLE_STATE in app else None
    lesson = lesson_of_the_day(app)
    copies = await app[STORE].list_named(file_name(lesson), limit=COPIES_SHOWN)
    return LessonView(lesson=lesson, pinned=pinned_lesson(app) is not None,
                      bundle_lesson=bundle_lesson(index), choices=lesson_choices(index),
                      copies=copies)


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
