"""Upgrades: a data directory written by an older kiosk opens under this one, intact.

The fixture is made by running the old code itself: ``git archive c0399e1`` into a
temporary folder, ``python -m kiosk serve`` from there, shares made through its API
(with sync on towards a closed port, so the outbox fills). The same data directory is
then opened by this checkout's kiosk. A data directory of a newer schema is refused
with a clear message and not modified at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest

from kiosk.db import SCHEMA_FORMAT
from tests.conftest import REPO, KioskProcess, start_kiosk
from tests.lifecycle_net import request
from tests.sharing_helpers import make_notebook

pytestmark = pytest.mark.slow

OLD_COMMIT = "c0399e1"
DEAD_UPSTREAM = "http://127.0.0.1:9/api/v1"  # the discard port: nothing listens


def old_tree(dest: Path) -> Path:
    if not (REPO / ".git").exists():
        pytest.fail("needs the git history of the checkout (git archive c0399e1)")
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", OLD_COMMIT, "kiosk"],
                             capture_output=True, check=True, timeout=60).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True, timeout=60)
    return dest


def start_old(tree: Path, args: list[str]) -> KioskProcess:
    """The old kiosk: its package first on the path (``-m`` puts the cwd first)."""
    import tests.conftest as conftest

    # start_kiosk runs in the checkout (REPO); this one runs in the old tree instead.
    with mock.patch.object(conftest, "REPO", tree):
        return start_kiosk(args, env={"PYTHONPATH": str(tree)})


def api(kp: KioskProcess, method: str, path: str, payload: object = None,
        token: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    body = json.dumps(payload).encode() if payload is not None else None
    status, raw = request(method, kp.url() + path, body=body, headers=hdrs)
    return status, json.loads(raw) if raw else {}


def snapshot(data: Path) -> dict[str, object]:
    conn = sqlite3.connect(f"{(data / 'shares.sqlite3').as_uri()}?mode=ro", uri=True)
    try:
        return {
            "shares": conn.execute("SELECT id, readable_id, version, owner_session, name, "
                                   "content FROM shares ORDER BY id").fetchall(),
            "outbox": conn.execute("SELECT share_id, version FROM outbox ORDER BY share_id"
                                   ).fetchall(),
            "idempotency": conn.execute("SELECT scope, key, share_id FROM idempotency_keys"
                                        " ORDER BY key").fetchall(),
            "secrets": {n: (data / n).read_text() for n in ("admin-secret",
                                                           "sharing-signing.key")},
        }
    finally:
        conn.close()


def tree_digest(root: Path) -> dict[str, tuple[str, float]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                path.stat().st_mtime)
    return out


@pytest.fixture(scope="module")
def old_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str, list]:
    """A data directory written by the old kiosk: 6 shares (one updated), a token."""
    root = tmp_path_factory.mktemp("upgrade")
    tree = old_tree(root / "old")
    data = root / "data"
    kp = start_old(tree, ["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled",
                          "--name", "room", "--data-dir", str(data), "--sync-enabled",
                          "--upstream-url", DEAD_UPSTREAM, "--upstream-kind", "kiosk",
                          "--sync-backoff-max", "1"])
    try:
        token = api(kp, "POST", "/api/v1/auth/issue")[1]["token"]
        ids, notebooks = [], []
        for i in range(6):
            notebooks.append(make_notebook(f"print({i})", title=f"old {i}"))
            status, body = api(kp, "POST", "/api/v1/notebooks", {"notebook": notebooks[-1]},
                               token, headers={"Idempotency-Key": f"key-{i}"})
            assert status == 201, body
            ids.append(body["notebook"]["id"])
        status, body = api(kp, "PUT", f"/api/v1/notebooks/{ids[0]}",
                           make_notebook("print('updated')", title="old 0 v2"), token)
        assert status == 200, body
    finally:
        assert kp.stop() == 0, "\n".join(kp.log)
    return data, ids, token, notebooks


def test_old_data_directory_opens_intact(old_data, kiosk_process, tmp_path: Path):
    data, ids, token, notebooks = old_data
    before = snapshot(data)
    assert len(before["shares"]) == 6 and len(before["outbox"]) == 6  # type: ignore[arg-type]

    # This kiosk, sync still pointing at the closed port: nothing lost, nothing changed.
    new = start_kiosk(["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled",
                       "--name", "room", "--data-dir", str(data), "--sync-enabled",
                       "--upstream-url", DEAD_UPSTREAM, "--upstream-kind", "kiosk"])
    try:
        for share_id in ids:
            status, body = api(new, "GET", f"/api/v1/notebooks/{share_id}", token=token)
            assert status == 200, body
        secret = before["secrets"]["admin-secret"].strip()  # type: ignore[index]
        status, listing = api(new, "GET", "/api/admin/shares", token=secret)
        assert status == 200 and listing["total"] == 6, listing
        # The old token updates a share; the old idempotency key still replays.
        status, body = api(new, "PUT", f"/api/v1/notebooks/{ids[1]}",
                           make_notebook("print('new code')"), token)
        assert status == 200, body
        status, body = api(new, "POST", "/api/v1/notebooks",
                           {"notebook": notebooks[2]}, token,
                           headers={"Idempotency-Key": "key-2"})
        assert status == 201 and body["notebook"]["id"] == ids[2], body
    finally:
        assert new.stop() == 0, "\n".join(new.log)
    after = snapshot(data)
    assert after["secrets"] == before["secrets"]
    assert after["idempotency"] == before["idempotency"]
    assert [r[0] for r in after["outbox"]] == [r[0] for r in before["outbox"]]  # type: ignore
    changed = {r[0] for r in after["shares"]} ^ {r[0] for r in before["shares"]}  # type: ignore
    assert not changed
    assert [r for r in after["shares"] if r[0] != ids[1]] == [  # type: ignore[attr-defined]
        r for r in before["shares"] if r[0] != ids[1]]  # type: ignore[attr-defined]

    # Now the hub is reachable: the old outbox drains, every share arrives once.
    hub = kiosk_process("--data-dir", str(tmp_path / "hub"), "--name", "hub")
    room = start_kiosk(["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled",
                        "--name", "room", "--data-dir", str(data), "--sync-enabled",
                        "--upstream-url", f"{hub.url()}/api/v1", "--upstream-kind", "kiosk",
                        "--sync-interval", "0.3"])
    try:
        deadline = time.monotonic() + 30
        sync: dict = {}
        while time.monotonic() < deadline:
            sync = api(room, "GET", "/api/kiosk/status")[1]["sync"]
            if sync["queued"] == 0:
                break
            time.sleep(0.2)
        assert sync["queued"] == 0, sync
    finally:
        room.stop()
    hub_secret = (tmp_path / "hub" / "admin-secret").read_text().strip()
    assert api(hub, "GET", "/api/admin/shares", token=hub_secret)[1]["total"] == 6


def test_newer_schema_is_refused_untouched(old_data, tmp_path: Path):
    data = tmp_path / "data"
    subprocess.run(["cp", "-a", str(old_data[0]), str(data)], check=True)
    conn = sqlite3.connect(data / "shares.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_FORMAT + 5}")
    conn.close()
    os.utime(data, (1e9, 1e9))
    before = tree_digest(data)
    listing = sorted(os.listdir(data))
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "serve", "--host", "127.0.0.1", "--port", "0",
         "--no-mdns-enabled", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "written by a newer kiosk" in proc.stderr and "Nothing was changed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree_digest(data) == before
    assert sorted(os.listdir(data)) == listing
    assert data.stat().st_mtime == 1e9
