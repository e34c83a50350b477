"""Issue 18, phone first: "Start coding" and a shared link open the lesson full width.

Headless Chromium (tests/browser/phone_lesson.mjs) at two phone sizes, a tablet and a
Chromebook, against a real `kiosk serve` reached as http://kiosk.test:<port> (plain HTTP
on a LAN name: not a secure context). From the start page, "Start coding" must open the
bundle's lesson (not a Launcher); its first cell must be at least 300 px wide and the page
must not scroll sideways; the kiosk's controls (Share, Open a code, My notebooks, the
connection state) must be on screen, in the compact menu on phones and tablets; the Share
dialog must fit; the shared link, in a fresh browser at the same size, must open the same way.

KIOSK_DOC_IMAGES=1 copies the screenshots to docs/images/phone-<viewport>-<step>.png.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browserlib import run_scenario
from tests.test_extension_e2e import IMAGES, _latest_bundle, _single_bundle_dir

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]

MIN_CELL_WIDTH = 300
VIEWPORTS = {
    "390x844": (390, 844, "phone"),
    "360x800": (360, 800, "phone"),
    "810x1080": (810, 1080, "tablet"),
    "1366x768": (1366, 768, "desktop"),
}
CONTROLS = ("badge-open-code", "badge-my-notebooks")


def _assert_full_width(where: str, m: dict[str, Any], width: int, layout: str) -> None:
    assert m["layout"] == layout, where
    cell = m["firstCell"]
    assert cell is not None, f"{where}: no notebook cell on screen"
    assert cell["width"] >= MIN_CELL_WIDTH, f"{where}: first cell only {cell['width']} px wide"
    assert cell["left"] >= 0 and cell["right"] <= width + 0.5, f"{where}: cell off screen {cell}"
    # Readable without scrolling sideways.
    assert m["scrollWidth"] <= width and m["bodyScrollWidth"] <= width, where
    # The notebook takes (nearly) the whole width: at most the thin activity bars beside
    # it (one on phones, two on tablets); on a laptop the file browser may stay open.
    least = {"phone": width - 40, "tablet": width - 80, "desktop": 0.7 * width}[layout]
    assert m["panel"]["width"] >= least, f"{where}: notebook {m['panel']['width']} px wide"
    if layout != "desktop":
        assert m["leftCollapsed"] and m["rightCollapsed"], f"{where}: a sidebar is open"
    if layout == "phone":
        assert m["mode"] == "single-document", where
    # The relay makes files and input() work on plain HTTP: nothing to warn about.
    assert m["insecureNote"] == 0, where
    assert m["badge"]["onScreen"], f"{where}: the kiosk badge is off screen {m['badge']}"


def _assert_controls(where: str, c: dict[str, Any], layout: str) -> None:
    found = c["found"]
    assert c["compact"] is (layout != "desktop"), where
    for control in CONTROLS:
        assert found[control] and found[control]["onScreen"], \
            f"{where}: {control} off screen: {found[control]}"
    if layout != "desktop":
        # The compact menu holds Share and the connection state in words.
        assert found["badge-share"]["onScreen"], f"{where}: Share off screen"
        assert "connected" in found["badge-menu-state"]["text"], where
    else:
        share = found["toolbarShare"]
        assert share and share["onScreen"], f"{where}: Share off screen"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_lesson_and_shared_link_fit_the_screen(viewport: str, kiosk_process: Any,
                                               tmp_path: Path) -> None:
    width, height, layout = VIEWPORTS[viewport]
    bundle = _latest_bundle("science")
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)),
                       "--host-aliases", "kiosk.test")  # the LAN name, or 421
    save_images = os.environ.get("KIOSK_DOC_IMAGES") == "1"
    if save_images:
        IMAGES.mkdir(parents=True, exist_ok=True)
    r = run_scenario("phone_lesson", {
        "origin": f"http://kiosk.test:{kp.port}",
        "viewport": {"width": width, "height": height}, "name": viewport,
        "outDir": str(tmp_path / "shots"),
        "imagesDir": str(IMAGES) if save_images else None,
    }, timeout=300)

    assert r["landing"]["scrollWidth"] <= width
    lesson = r["lesson"]
    # "Start coding" opened the lesson named by the bundle, and no Launcher.
    assert lesson["lessonFlag"] == "Welcome.ipynb"
    assert lesson["currentPath"] == "Welcome.ipynb"
    assert lesson["launchers"] == 0
    _assert_full_width("lesson", lesson, width, layout)
    _assert_controls("lesson", lesson["controls"], layout)

    share = r["share"]
    assert share["link"].endswith(f"/lab/index.html?notebook={share['code']}")
    assert share["dialog"]["left"] >= 0 and share["dialog"]["right"] <= width
    assert "Open a code" in share["text"]

    shared = r["shared"]
    assert shared["opened"] == share["code"]
    assert shared["currentPath"].endswith(".ipynb") and "Welcome" not in shared["currentPath"]
    assert shared["launchers"] == 0
    _assert_full_width("shared link", shared, width, layout)
    _assert_controls("shared link", shared["controls"], layout)
