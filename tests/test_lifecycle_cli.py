"""One truth for the CLI: the commands run beside a kiosk look at the bundles it serves.

``make run`` serves ``--bundles-dir bundles/dist`` (relative to the checkout); a later
``kiosk status``, ``kiosk doctor`` or ``kiosk bundle list`` given no such flag must
report that bundle, not "no bundle is active: rebuild".
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from kiosk.bundle.served import RECORD_FILE, bundles_dir_for, record_served
from kiosk.config import load_config
from tests.fakebundle import make_bundle


def kiosk_cli(*args: str, cwd: Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args, "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def test_status_doctor_and_bundle_list_find_the_served_bundles(kiosk_process, tmp_path: Path):
    checkout = tmp_path / "checkout"
    make_bundle(checkout / "bundles" / "dist", "served-1")
    data = tmp_path / "data"
    kiosk = kiosk_process("--bundles-dir", str(checkout / "bundles" / "dist"))
    deadline = time.monotonic() + 10  # written by a hook just after "listening"
    while not (data / RECORD_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (data / RECORD_FILE).read_text().strip() == str(checkout / "bundles" / "dist")

    status = json.loads(kiosk_cli("status", "--json", "--port", str(kiosk.port),
                                  cwd=checkout, data=data).stdout)
    assert status["bundle"]["name"] == "served-1", status
    assert status["bundles_dir"] == str(checkout / "bundles" / "dist")
    assert status["live"]["bundle"]["name"] == "served-1"

    doctor = kiosk_cli("doctor", "--json", "--port", "0", "--host", "127.0.0.1",
                       "--no-mdns-enabled", cwd=checkout, data=data)
    bundle = {f["check"]: f for f in json.loads(doctor.stdout)}["bundle"]
    assert bundle["level"] == "ok", bundle

    listing = kiosk_cli("bundle", "list", cwd=checkout, data=data)
    assert "* served-1" in listing.stdout, listing.stdout + listing.stderr


def test_explicit_setting_wins_and_a_vanished_record_falls_back(tmp_path: Path):
    data, served, other = tmp_path / "data", tmp_path / "served", tmp_path / "other"
    served.mkdir()
    record_served(load_config(env={}, overrides={"data_dir": data, "bundles_dir": served}))
    assert bundles_dir_for(load_config(env={}, overrides={"data_dir": data})) == served
    explicit = load_config(env={}, overrides={"data_dir": data, "bundles_dir": other})
    assert bundles_dir_for(explicit) == other
    served.rmdir()
    assert bundles_dir_for(load_config(env={}, overrides={"data_dir": data})) == data / "bundles"
