"""A short soak (``bench/soak.py`` in small): a few students for ~20 s against a real kiosk.

Every request must succeed and every share must read back with exactly the content of
its last acknowledged save. Speed is measured by the full soak in ``bench/`` (figures in
docs/performance.md), never asserted here.
"""

from __future__ import annotations

import pytest

from bench.soak import soak
from kiosk.bundle.manifest import read_manifest
from tests.fakebundle import make_bundle

pytestmark = pytest.mark.slow

STUDENTS = 6
SECONDS = 20
AUTOSAVE_SECONDS = 3


async def test_short_soak_has_no_errors_and_loses_no_save(kiosk_process, tmp_path):
    bundle = make_bundle(tmp_path / "bundles")
    # The fake bundle's cold start: every file once, plus the kiosk's own bridge script.
    paths = ["/lab/index.html", "/_kiosk/bridge.js",
             *(f"/{rel}" for rel in sorted(read_manifest(bundle).files)
               if not rel.endswith("index.html"))]
    cold_start = [{"path": p, "accept_encoding": "gzip, deflate"} for p in paths]
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "bundles"),
                          "--rate-issue-per-minute", "100000",
                          "--rate-post-per-minute", "100000")

    report = await soak(kiosk.url(), kiosk.proc.pid, cold_start, students=STUDENTS,
                        seconds=SECONDS, autosave_s=AUTOSAVE_SECONDS, kib=20)

    assert report["errors"] == 0, report["error_kinds"]
    assert report["problems"] == []
    assert report["shares"] == STUDENTS
    assert report["shares_verified"] == STUDENTS
    kinds = report["requests_by_kind"]
    # Every student loaded the lab and shared; the run was long enough for autosaves.
    assert kinds["bundle"] >= STUDENTS * len(cold_start)
    assert kinds["post"] == STUDENTS
    assert kinds["put"] >= STUDENTS
    assert kiosk.proc.poll() is None, "the kiosk died during the soak"
    print({k: report[k] for k in ("requests", "errors", "p50_ms", "p99_ms",
                                  "rss_start_mib", "rss_end_mib")})
