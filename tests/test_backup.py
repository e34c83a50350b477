"""``kiosk backup`` / ``kiosk restore``: a class's shares onto a new SD card.

Round trip while the kiosk serves (students keep saving during the backup), restore
refused under a running kiosk, restore onto a fresh data directory (the new card)
where old tokens and the admin secret keep working, and damaged or newer backups
refused with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.backup import MANIFEST, BackupError, backup, restore, verify_backup
from kiosk.db import SCHEMA_FORMAT
from kiosk.sharing.schema import SHARING_SCHEMA
from tests.conftest import REPO, KioskProcess
from tests.lifecycle_net import request
from tests.sharing_helpers import make_notebook

pytestmark = pytest.mark.slow


def cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args, "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False)


def api(kp: KioskProcess, method: str, path: str, payload: object = None,
        token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(payload).encode() if payload is not None else None
    status, raw = request(method, kp.url() + path, body=body, headers=headers)
    return status, json.loads(raw)


def share(kp: KioskProcess, token: str, tag: str) -> str:
    status, body = api(kp, "POST", "/api/v1/notebooks",
                       {"notebook": make_notebook(title=tag)}, token)
    assert status == 201, body
    return str(body["notebook"]["id"])


def test_round_trip_while_serving(kiosk_process, tmp_path: Path):
    data, dest, card = tmp_path / "data", tmp_path / "backup", tmp_path / "newcard"
    kp = kiosk_process("--rate-post-per-minute", "100000")
    token = api(kp, "POST", "/api/v1/auth/issue")[1]["token"]
    before = [share(kp, token, f"before {i}") for i in range(30)]
    # Students keep saving while the backup runs.
    stop, during = threading.Event(), []

    def keep_saving() -> None:
        while not stop.is_set():
            during.append(share(kp, token, "during"))

    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        proc = cli("backup", str(dest), data=data)
    finally:
        stop.set()
        saver.join()
    assert proc.returncode == 0, proc.stderr
    assert "backed up" in proc.stdout and during
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    manifest = json.loads((dest / MANIFEST).read_text())
    assert {"shares.sqlite3", "admin-secret", "sharing-signing.key"} <= set(manifest["files"])
    for path in dest.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    report = verify_backup(dest)
    assert report.shares >= len(before)

    # Restoring under the running kiosk is refused and changes nothing.
    refused = cli("restore", str(dest), data=data)
    assert refused.returncode == 2 and "stop it first" in refused.stderr
    assert not list(data.glob("before-restore-*"))
    secret = (data / "admin-secret").read_text()
    kp.stop()

    # The new SD card: restore, start, everything there; the old token still works.
    proc = cli("restore", str(dest), data=card)
    assert proc.returncode == 0, proc.stderr
    assert (card / "admin-secret").read_text() == secret
    for name in ("shares.sqlite3", "admin-secret", "sharing-signing.key"):
        assert stat.S_IMODE((card / name).stat().st_mode) == 0o600
    new = kiosk_process("--data-dir", str(card))
    for share_id in before:
        status, body = api(new, "GET", f"/api/v1/notebooks/{share_id}", token=token)
        assert status == 200, body
    status, body = api(new, "PUT", f"/api/v1/notebooks/{before[0]}", make_notebook("v2"),
                       token)
    assert status == 200, body
    status, listing = api(new, "GET", "/api/admin/shares", token=secret.strip())
    assert status == 200 and listing["total"] == report.shares


def test_restore_over_data_keeps_what_was_there(kiosk_process, tmp_path: Path):
    data, dest = tmp_path / "data", tmp_path / "backup"
    kp = kiosk_process()
    token = api(kp, "POST", "/api/v1/auth/issue")[1]["token"]
    kept_share = share(kp, token, "in the backup")
    kp.stop()
    backup(data, dest)
    kp = kiosk_process()
    later = share(kp, token, "made after the backup")
    kp.stop()
    report, kept = restore(dest, data)
    assert report.shares == 1 and kept is not None
    old = sqlite3.connect(kept / "shares.sqlite3")
    assert {r[0] for r in old.execute("SELECT id FROM shares")} == {kept_share, later}
    old.close()
    kp = kiosk_process()
    assert api(kp, "GET", f"/api/v1/notebooks/{later}", token=token)[0] == 404
    assert api(kp, "GET", f"/api/v1/notebooks/{kept_share}", token=token)[0] == 200


def test_damaged_and_newer_backups_are_refused(kiosk_process, tmp_path: Path):
    data, dest = tmp_path / "data", tmp_path / "backup"
    kp = kiosk_process()
    share(kp, api(kp, "POST", "/api/v1/auth/issue")[1]["token"], "x")
    kp.stop()
    backup(data, dest)
    with pytest.raises(BackupError, match="not an empty folder"):
        backup(data, dest)
    key = dest / "sharing-signing.key"
    original = key.read_bytes()
    key.write_bytes(original[:-2] + b"\n")
    with pytest.raises(BackupError, match="damaged"):
        restore(dest, tmp_path / "card")
    assert not (tmp_path / "card" / "shares.sqlite3").exists()
    key.write_bytes(original)
    # A backup from a newer kiosk: refused, whatever its checksums say.
    db = dest / "shares.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_FORMAT + 1}")
    conn.close()
    manifest = json.loads((dest / MANIFEST).read_text())
    manifest["files"]["shares.sqlite3"] = hashlib.sha256(db.read_bytes()).hexdigest()
    (dest / MANIFEST).write_text(json.dumps(manifest))
    proc = cli("restore", str(dest), data=tmp_path / "card")
    assert proc.returncode == 2 and "newer kiosk" in proc.stderr, proc.stderr
    assert cli("restore", str(tmp_path), data=tmp_path / "card").returncode == 2


def test_restore_as_root_gives_the_files_to_the_service_user(tmp_path: Path):
    """``sudo kiosk restore`` into a data directory owned by the service's user."""
    import os

    if os.geteuid() != 0:
        pytest.fail("needs root (CI runs the suite as root)")
    data, dest, card = tmp_path / "data", tmp_path / "backup", tmp_path / "card"
    from kiosk.secrets import admin_secret_path, load_or_create_secret

    load_or_create_secret(admin_secret_path(data))
    conn = sqlite3.connect(data / "shares.sqlite3")
    conn.execute("PRAGMA user_version = 1")
    conn.executescript(";".join(SHARING_SCHEMA.migrations[0]))
    conn.close()
    backup(data, dest)
    card.mkdir()
    os.chown(card, 4242, 4242)
    restore(dest, card)
    for path in card.iterdir():
        assert (path.stat().st_uid, path.stat().st_gid) == (4242, 4242), path
