"""Issue 18, a quiet first run: a student's first plot prints no font-cache warning.

Headless Chromium (tests/browser/first_plot.mjs), a fresh browser, a real `kiosk serve`
with the science bundle on a non-secure LAN name: a new notebook runs
``import matplotlib.pyplot as plt; plt.plot(...); plt.show()``. The output must be the
picture and nothing else: before the bundle shipped matplotlib's font cache (built at
bundle time, kiosk/bundle/fontcache.py), it began with "Matplotlib is building the font
cache", saved into the notebook and every shared copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browserlib import run_scenario
from tests.test_extension_e2e import _latest_bundle, _single_bundle_dir

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]


def test_first_plot_has_no_font_cache_warning(kiosk_process: Any, tmp_path: Path) -> None:
    bundle = _latest_bundle("science")
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)))
    r = run_scenario("first_plot", {"origin": f"http://kiosk.test:{kp.port}",
                                    "timeoutMs": 240000}, timeout=400)
    assert r["status"] == "ok", r
    texts = " ".join(str(o["text"]) for o in r["outputs"]).lower()
    assert "font cache" not in texts, r["outputs"]
    assert [o["type"] for o in r["outputs"]] == ["display_data"], r["outputs"]
    assert "image/png" in r["outputs"][0]["mimes"]
