"""The lesson of the day: the notebook "Start coding" opens, picked on the dashboard.

Each bundle names its own lesson in ``jupyter-lite.json``
(``jupyter-config-data.kioskLesson``, ``Welcome.ipynb`` when it names none); the
extension opens it instead of a Launcher. The teacher may pick another of the
bundle's content notebooks for the day: the choice is saved in ``<data_dir>/lesson``
(like the language pin) and every ``jupyter-lite.json`` answer then carries it
(:func:`kiosk.serving.static.rewrite_lite_config`). A choice the active bundle does
not hold (after a bundle switch) is ignored, not lost: the bundle's own lesson is
served until the teacher picks again or switches back.

**The lesson in the student's language.** A bundle may name translations of its lesson
(``jupyter-config-data.kioskLessonTranslations``: language code → content path, e.g.
``{"fr": "Bienvenue.ipynb"}``). When the teacher has picked no lesson, "Start coding"
opens the translation for the language of the student's pages
(:func:`kiosk.i18n.request_language`: the same choice the kiosk's pages make), and the
bundle's own lesson when there is none for that language or the bundle lacks the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kiosk.serving.index import BundleIndex
from kiosk.serving.state import BUNDLE_STATE

LESSON_FILE = "lesson"
DEFAULT_LESSON = "Welcome.ipynb"
CONTENT_PREFIX = "files/"
#: the longest lesson path accepted (a content path, never user text of any length)
PATH_MAX = 255
#: the key of ``jupyter-config-data`` naming the lesson's translations
TRANSLATIONS_KEY = "kioskLessonTranslations"


@dataclass(slots=True)
class LessonPin:
    """The lesson the teacher picked on the dashboard (None: the bundle's own)."""

    path: Path
    chosen: str | None = None

    def load(self) -> None:
        """Read the saved choice (blocking); an unreadable or odd file means none."""
        try:
            saved = self.path.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return
        self.chosen = saved if is_content_path(saved) else None

    def save(self, lesson: str | None) -> None:
        """Pin ``lesson`` (None: the bundle's own) and keep it across restarts (blocking)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(lesson or "", encoding="utf-8")
        os.replace(tmp, self.path)
        self.chosen = lesson


LESSON_PIN = web.AppKey("lesson_pin", LessonPin)


def is_content_path(path: str) -> bool:
    """Whether ``path`` looks like a notebook path inside the bundle's content."""
    parts = path.split("/")
    return (0 < len(path) <= PATH_MAX and path.endswith(".ipynb") and path.isprintable()
            and all(p and p not in {".", ".."} and not p.startswith(".") for p in parts))


def lesson_choices(index: BundleIndex | None) -> list[str]:
    """The content notebooks of a bundle (paths under ``files/``), sorted."""
    if index is None:
        return []
    found = (rel.removeprefix(CONTENT_PREFIX) for rel in index.entries
             if rel.startswith(CONTENT_PREFIX))
    return sorted((p for p in found if is_content_path(p)), key=str.casefold)


def _config_data(index: BundleIndex | None) -> dict[str, Any]:
    """``jupyter-config-data`` of the bundle's root ``jupyter-lite.json`` ({} if none)."""
    entry = index.lookup("jupyter-lite.json") if index is not None else None
    config: Any = entry.lite_config if entry is not None else None
    data = config.get("jupyter-config-data") if isinstance(config, dict) else None
    return data if isinstance(data, dict) else {}


def bundle_lesson(index: BundleIndex | None) -> str:
    """The lesson the bundle itself names in its root ``jupyter-lite.json``."""
    named = _config_data(index).get("kioskLesson")
    if isinstance(named, str) and named.strip().lstrip("/"):
        return named.strip().lstrip("/")
    return DEFAULT_LESSON


def pinned_lesson(app: web.Application) -> str | None:
    """The teacher's pick when the active bundle holds it, else None (the bundle's own)."""
    pin = app.get(LESSON_PIN)
    if pin is None or pin.chosen is None:
        return None
    index = app[BUNDLE_STATE].index if BUNDLE_STATE in app else None
    if index is None or index.lookup(CONTENT_PREFIX + pin.chosen) is None:
        return None
    return pin.chosen


def lesson_of_the_day(app: web.Application) -> str:
    """What "Start coding" opens now: the teacher's pick, else the bundle's lesson."""
    index = app[BUNDLE_STATE].index if BUNDLE_STATE in app else None
    return pinned_lesson(app) or bundle_lesson(index)


def lesson_translations(index: BundleIndex | None) -> dict[str, str]:
    """Language code → the bundle's lesson in that language, for the files it holds."""
    named = _config_data(index).get(TRANSLATIONS_KEY)
    if index is None or not isinstance(named, dict):
        return {}
    return {code: path for code, path in named.items()
            if isinstance(code, str) and isinstance(path, str) and is_content_path(path)
            and index.lookup(CONTENT_PREFIX + path) is not None}


def lesson_for_language(app: web.Application, language: str) -> str | None:
    """What "Start coding" opens for a student whose pages are in ``language``.

    The teacher's pick wins; else the bundle's lesson in that language; None means the
    bundle's own lesson (what ``jupyter-lite.json`` names already).
    """
    pinned = pinned_lesson(app)
    if pinned is not None:
        return pinned
    index = app[BUNDLE_STATE].index if BUNDLE_STATE in app else None
    return lesson_translations(index).get(language)
