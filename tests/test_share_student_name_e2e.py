"""The Share dialog's "Your name (optional)" in a real JupyterLite with the kiosk
extension as built from extension/ (extension/build.sh): the name reaches the kiosk,
is remembered in the browser, and a classmate reading the share never sees it.

The core bundle of bundles/dist is copied with this build of the extension put in
(the manifest rewritten for it): the test needs no bundle build of its own."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kiosk.bundle.manifest import Manifest, describe_files, read_manifest, write_manifest
from tests.browserlib import run_scenario
from tests.conftest import REPO
from tests.sharing_helpers import get_json, post_json
from tests.test_extension_e2e import EXT_NAME

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]

BUILT = REPO / "extension" / "dist" / "labextension"


def _bundle_with_this_extension(tmp_path: Path) -> Path:
    roots = sorted((REPO / "bundles" / "dist").glob("core-*"))
    if not roots:
        pytest.fail("no built core bundle in bundles/dist: run 'make bundles-for-tests'")
    source = roots[-1]
    if not (BUILT / "package.json").is_file():
        pytest.fail("extension/dist/labextension is missing: run extension/build.sh")
    root = tmp_path / "bundles"
    bundle = root / "core-name"
    shutil.copytree(source, bundle, symlinks=False)
    target = bundle / "extensions" / EXT_NAME
    shutil.rmtree(target)
    shutil.copytree(BUILT, target)
    # Every jupyter-lite.json loads this build's entry file (named by its content hash).
    build = json.loads((BUILT / "package.json").read_text())["jupyterlab"]["_build"]
    for lite in bundle.rglob("jupyter-lite.json"):
        config = json.loads(lite.read_text())
        for ext in config.get("jupyter-config-data", {}).get("federated_extensions", []):
            if ext.get("name") == EXT_NAME:
                ext.update(build)
        lite.write_text(json.dumps(config))
        for sibling in (lite.with_name(lite.name + ".br"), lite.with_name(lite.name + ".gz")):
            sibling.unlink(missing_ok=True)
    old = read_manifest(bundle)
    write_manifest(bundle, Manifest(profile=old.profile, built_at=old.built_at,
                                    versions=old.versions, files=describe_files(bundle)))
    (root / "current").write_text("core-name\n", encoding="utf-8")
    return root


def test_share_dialog_name_reaches_the_kiosk(kiosk_process: Any, tmp_path: Path) -> None:
    kp = kiosk_process("--bundles-dir", str(_bundle_with_this_extension(tmp_path)),
                       "--host-aliases", "kiosk.test")
    origin = f"http://kiosk.test:{kp.port}"
    result = run_scenario("share_student_name", {"origin": origin, "name": "Zoé Martin"},
                          timeout=400)
    first, second = result["first"], result["second"]
    assert first["shown"] == "" and first["label"] == "Your name (optional)"
    assert first["stored"] == "Zoé Martin"
    assert second["shown"] == "Zoé Martin"  # remembered in this browser
    assert result["axe"]["passes"] > 10
    assert [v for v in result["axe"]["violations"]
            if "kiosk-student-name" in json.dumps(v["nodes"])] == []
    # The kiosk keeps the name; the JE answer a classmate reads does not carry it.
    with sqlite3.connect(tmp_path / "data" / "shares.sqlite3") as conn:
        names = dict(conn.execute("SELECT readable_id, student_name FROM shares"))
    assert names[first["code"]] == "Zoé Martin"
    assert names[second["code"]] == "Zoé Martin"  # sent with the second share's POST
    token = post_json(f"{kp.url()}/api/v1/auth/issue", {})["token"]
    got = get_json(f"{kp.url()}/api/v1/notebooks/get-by-readable-id/{first['code']}", token)
    assert "Zoé" not in json.dumps(got, ensure_ascii=False)
