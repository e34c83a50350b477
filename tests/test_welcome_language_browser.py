""""Start coding" opens the Welcome lesson in the browser's language (issue 23), in real
Chromium with a French (then Arabic, then Japanese) locale, on the built core bundle
served by a real kiosk on a non-secure LAN name, no request leaving the kiosk.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.browserlib import run_scenario
from tests.conftest import KioskProcess
from tests.test_bundle_e2e import serve_bundle  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.bundle, pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize(("locale", "start", "lesson", "heading", "direction"), [
    ("fr-FR", "Commencer à coder", "Bienvenue.ipynb", "Bienvenue dans Python en classe 👋",
     "ltr"),
    ("ar-EG", "ابدأ البرمجة", "مرحبا.ipynb", "مرحبًا بك في بايثون الصف 👋", "rtl"),
    # A language the kiosk does not have: the English lesson.
    ("ja-JP", "Start coding", "Welcome.ipynb", "Welcome to Classroom Python 👋", "ltr"),
])
def test_start_coding_opens_the_lesson_in_the_browsers_language(
        serve_bundle: Callable[[str], tuple[KioskProcess, object]],  # noqa: F811
        locale: str, start: str, lesson: str, heading: str, direction: str) -> None:
    kp, _manifest = serve_bundle("core")
    result = run_scenario("welcome_language", {"url": f"http://kiosk.test:{kp.port}",
                                               "locale": locale}, timeout=300)
    assert result["start"] == start
    assert result["lesson"] == lesson and result["currentPath"] == lesson
    assert result["heading"] == heading
    assert result["direction"] == direction
    assert result["foreign"] == [], result["foreign"]
