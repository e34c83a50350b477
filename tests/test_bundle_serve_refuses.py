"""`kiosk serve` refuses a bundle that fails verification, naming the file and the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kiosk.bundle.active import set_current
from tests.bundle_fakes import make_bundle, remanifest, sha
from tests.conftest import REPO


def serve_once(bundles_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "serve", "--host", "127.0.0.1", "--port", "0",
         "--no-mdns-enabled", "--data-dir", str(tmp_path / "data"),
         "--bundles-dir", str(bundles_dir)],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env, check=False)


def test_serve_refuses_a_changed_file(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    bundle = make_bundle(dist / "fake-20261123T000000")
    set_current(dist, bundle.name)
    (bundle / "build" / "main.js").write_text("console.log('changed')", encoding="utf-8")
    proc = serve_once(dist, tmp_path)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "build/main.js" in out
    assert "make bundle" in out or "kiosk bundle" in out


def test_serve_refuses_an_unofficial_pyodide_package(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    bundle = make_bundle(dist / "fake-20261123T000000")
    set_current(dist, bundle.name)
    numpy = "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"
    pyo = bundle / "static" / "pyodide"
    forged = b"forged" * 100
    (pyo / numpy).write_bytes(forged)
    lock = json.loads((pyo / "pyodide-lock.json").read_text(encoding="utf-8"))
    lock["packages"]["numpy"]["sha256"] = sha(forged)
    (pyo / "pyodide-lock.json").write_text(json.dumps(lock), encoding="utf-8")
    remanifest(bundle)
    proc = serve_once(dist, tmp_path)
    assert proc.returncode != 0
    assert f"static/pyodide/{numpy}" in proc.stdout + proc.stderr
