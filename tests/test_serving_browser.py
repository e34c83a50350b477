"""The polyfill and the CSP in a real Chromium on a non-secure origin."""

from __future__ import annotations

import re

import pytest

from tests.browserlib import run_scenario
from tests.fakebundle import make_bundle

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

pytestmark = pytest.mark.browser


def test_polyfill_gives_random_uuid_on_plain_http(kiosk_process, tmp_path):
    make_bundle(tmp_path / "bundles")
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "bundles"),
                          "--host-aliases", "kiosk.test")
    origin = f"http://kiosk.test:{kiosk.port}"
    result = run_scenario("polyfill", {"url": origin + "/lab/index.html", "origin": origin})
    assert result["status"] == 200
    assert result["secure"] is False, "the test must run on a non-secure origin"
    assert UUID_RE.match(result["uuidFromPageScript"] or ""), result
    assert UUID_RE.match(result["uuidNow"]), result
    assert result["uuidFromPageScript"] != result["uuidNow"]
    assert result["inlineRan"] == 1, "the page's own inline script must be allowed by hash"
    assert result["violations"] == [], result["violations"]
    assert "unsafe-inline" not in result["csp"].split("script-src")[1].split(";")[0]
    assert result["foreign"] == []
