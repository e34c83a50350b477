"""The status endpoint and `kiosk status`."""

from __future__ import annotations

import json
import subprocess
import sys

from kiosk import __version__
from kiosk.app import create_app
from tests.fakebundle import make_bundle


async def test_status_endpoint(aiohttp_client, make_config, tmp_path):
    make_bundle(tmp_path / "bundles")
    client = await aiohttp_client(create_app(make_config(bundles_dir=tmp_path / "bundles")))
    resp = await client.get("/api/kiosk/status")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    data = await resp.json()
    assert data["name"] == "testkiosk" and data["version"] == __version__
    assert data["bundle"]["profile"] == "fake" and data["bundle"]["name"] == "fake-1"
    assert data["bundle_error"] is None
    assert data["sync"]["enabled"] is False
    assert "127.0.0.1" not in json.dumps(data), "no client address in the status"


def test_status_cli_sees_running_kiosk(kiosk_process, tmp_path):
    make_bundle(tmp_path / "bundles")
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "bundles"))
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "status", "--json", "--port", str(kiosk.port),
         "--bundles-dir", str(tmp_path / "bundles"), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60, check=True)
    info = json.loads(proc.stdout)
    assert info["running"] is True
    assert info["bundle"]["profile"] == "fake"
    assert info["live"]["bundle"]["name"] == "fake-1"
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "status", "--port", "1",
         "--bundles-dir", str(tmp_path / "nothing"), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60, check=True)
    assert "not running" in proc.stdout and "no bundle is active" in proc.stdout
