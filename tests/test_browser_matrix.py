"""Issue 18, every student's browser: the student flow in Chromium and Firefox ESR.

tests/browser/student_flow.mjs, driven by puppeteer-core (Debian's Chromium over CDP,
Debian's firefox-esr over WebDriver BiDi), against a real `kiosk serve`: "Start coding"
opens the lesson; a cell runs; numpy, pandas and a matplotlib plot; input() gets its
answer; a file Python writes shows in the file browser and a file saved from the file
browser is read by Python; time.sleep waits; Share gives a link that opens, view-only,
in a fresh browser context. On a non-secure LAN name (kiosk.test: the kiosk's relay does
the service worker's job) and on localhost (a secure context: the real service worker),
at a phone and a laptop size.

Not covered yet (see docs/architecture.md, "Phones"): Firefox on localhost (there the
kernel did not start within 300 s under puppeteer; not yet investigated) and WebKitGTK.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browserlib import BROWSER_DIR, run_scenario
from tests.test_extension_e2e import _latest_bundle, _single_bundle_dir

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]

FIREFOX = Path("/usr/bin/firefox-esr")
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
CASES = {
    "chrome-phone-lan": ("chrome", PHONE, "kiosk.test"),
    "chrome-laptop-localhost": ("chrome", LAPTOP, "127.0.0.1"),
    "firefox-laptop-lan": ("firefox", LAPTOP, "kiosk.test"),
    "firefox-phone-lan": ("firefox", PHONE, "kiosk.test"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_student_flow(case: str, kiosk_process: Any, tmp_path: Path) -> None:
    browser, viewport, host = CASES[case]
    if browser == "firefox" and not FIREFOX.exists():
        pytest.fail("firefox-esr is missing: run 'make test-deps'")
    if not (BROWSER_DIR / "node_modules" / "puppeteer-core").is_dir():
        pytest.fail("puppeteer-core is missing: run 'make test-deps'")
    bundle = _latest_bundle("science")
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)))
    r = run_scenario("student_flow", {
        "origin": f"http://{host}:{kp.port}", "browser": browser, "viewport": viewport,
        "timeoutMs": 300000,
    }, timeout=900)

    assert r["secure"] is (host == "127.0.0.1")
    assert r["lesson"] == "Welcome.ipynb"
    assert r["firstCellWidth"] >= 300
    assert r["scrollWidth"] <= viewport["width"]
    assert r["cell"] == "42\n"
    assert r["science"]["status"] == "ok" and "sum 30" in r["science"]["text"]
    assert "image/png" in r["science"]["mimes"]
    assert "font cache" not in r["science"]["text"]
    assert r["input"] == {"text": "Hello Ada\n", "prompts": ["Your name? "]}
    assert r["written"].strip().startswith("/drive")
    assert r["fileBrowserHasPythonFile"] is True
    assert r["read"] == "made in the file browser\n"
    assert r["sleep"] == "True\n"
    assert r["link"].endswith(f"/lab/index.html?notebook={r['code']}")
    assert r["opened"] == r["code"]
