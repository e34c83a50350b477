"""The kiosk's pages in French and Arabic in headless Chromium at 390 px, against a real
kiosk process: a browser asking for the language gets it (Arabic right to left), pages stay
axe-clean and no wider than the phone. KIOSK_DOC_IMAGES=1 saves docs/images/landing-fr.png,
landing-ar.png, share-fr.png and share-ar.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browserlib import run_scenario
from tests.conftest import REPO
from tests.fakebundle import make_bundle
from tests.sharing_helpers import make_notebook, post_json

DOC_IMAGES = os.environ.get("KIOSK_DOC_IMAGES") == "1"




@pytest.mark.browser
def test_french_and_arabic_pages_in_a_browser(kiosk_process, tmp_path: Path) -> None:
    out = REPO / "docs" / "images" if DOC_IMAGES else tmp_path
    make_bundle(tmp_path / "data" / "bundles")
    kp = kiosk_process()
    base = kp.url()
    token = post_json(f"{base}/api/v1/auth/issue", {})["token"]
    saved = post_json(f"{base}/api/v1/notebooks",
                  {"notebook": make_notebook("print('bonjour')", title="Fractions")}, token)
    share_id = saved["notebook"]["readable_id"]
    result = run_scenario("i18n_pages", {"base": base, "shareId": share_id,
                                         "languages": ["fr", "ar"], "outDir": str(out)})
    pages = result["pages"]
    assert len(pages) == 8
    headings = {
        "fr /s/calm-blue-oter-42": "Aucun notebook avec ce code",
        "ar /s/calm-blue-oter-42": "لا يوجد دفتر بهذا الرمز",
        "fr /join": "Scanne le grand code pour lancer Python",
        "ar /join": "امسح الرمز الكبير لتبدأ بايثون",
    }
    for key, page in pages.items():
        language, path = key.split(" ", 1)
        assert page["lang"] == language, key
        assert page["dir"] == ("rtl" if language == "ar" else "ltr"), key
        assert page["serious"] == [], (key, page["serious"])
        assert page["passes"] > 10, key  # axe really ran
        assert page["status"] == (404 if "oter" in path else 200), key
        if path != "/join":  # the projector page is made for a wide screen
            assert not page["overflowX"], f"{key} is wider than a 390 px phone"
        if key in headings:
            assert page["heading"].strip() == headings[key], key
    for name in ("landing-fr", "landing-ar", "share-fr", "share-ar"):
        assert (out / f"{name}.png").stat().st_size > 10_000, name
