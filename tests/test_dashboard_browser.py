"""The dashboard in headless Chromium, against a real kiosk process: sign in through the
form, read the figures, and find no serious or critical axe-core violations on
``/``, ``/join``, ``/s/<id>``, ``/admin`` and ``/admin/datasets`` (reached by its link).
Saves docs/images/dashboard.png."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.browserlib import run_scenario
from tests.conftest import REPO
from tests.fakebundle import make_bundle
from tests.sharing_helpers import make_notebook, post_json

# Tests write screenshots under tmp; KIOSK_DOC_IMAGES=1 refreshes the ones in docs/.
DOC_IMAGES = os.environ.get("KIOSK_DOC_IMAGES") == "1"




def test_dashboard_in_browser_and_axe(kiosk_process, tmp_path: Path) -> None:
    SCREENSHOT = (REPO / "docs" / "images" if DOC_IMAGES else tmp_path) / "dashboard.png"
    data = tmp_path / "data"
    make_bundle(data / "bundles")
    kp = kiosk_process()
    base = kp.url()
    token = post_json(f"{base}/api/v1/auth/issue", {})["token"]
    saved = post_json(f"{base}/api/v1/notebooks",
                  {"notebook": make_notebook(title="Fractions")}, token)
    share_id = saved["notebook"]["readable_id"] or saved["notebook"]["id"]
    secret = (data / "admin-secret").read_text().strip()
    # The first start wrote the secret to the log, once.
    assert sum(secret in line for line in kp.log) == 1

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    result = run_scenario("dashboard", {"base": base, "secret": secret, "shareId": share_id,
                                        "screenshot": str(SCREENSHOT)})

    assert result["signedOut"]["hasPassword"] == 1
    assert result["signedOut"]["hasFigures"] == 0
    assert "not the admin secret" in result["wrongText"]
    figures = result["figures"]
    assert figures["sharesTotal"] == "1"
    assert figures["sharesToday"] == "1"
    assert int(figures["studentsSeen"]) >= 1
    assert int(figures["diskFree"]) > 0
    assert figures["memory"] is not None and figures["cpu"] is not None
    assert figures["bundle"] == "fake-1"
    assert figures["qr"] == 1
    assert "kiosk_admin" not in figures["documentCookie"]  # HttpOnly
    assert result["cookie"] == {"httpOnly": True, "sameSite": "Strict", "path": "/admin"}
    assert result["signedOut"]["axe"] == []
    summary = {url: sorted(f"{v['id']} ({v['impact']})" for v in page["violations"])
               for url, page in result["a11y"].items()}
    print("axe-core violations by page:", json.dumps(summary, indent=1))
    problems = {url: page["serious"] for url, page in result["a11y"].items() if page["serious"]}
    assert problems == {}, json.dumps(problems, indent=1)
    assert len(result["a11y"]) == 5
    assert result["datasetsForm"] == 1, "the datasets page's form carries the CSRF token"
    for url, page in result["a11y"].items():
        assert page["status"] == 200, url
        assert page["version"] == "4.14.1" and page["passes"] > 10, url  # axe really ran
    assert SCREENSHOT.stat().st_size > 10_000
