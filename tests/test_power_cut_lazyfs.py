"""The power-cut file system (``tests/lazyfs.py``) really forgets what was not synced.

Without these, a power-cut test that passes could mean only that the layer under it
never drops anything. Each case writes through a real FUSE mount, cuts, unmounts and
looks at what is left in the backing directory (the "SD card").
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from pathlib import Path

import pytest


def write_file(path: Path, data: bytes, *, sync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_a_write_without_fsync_vanishes_at_a_cut(lazy):
    mnt, disk = lazy.mountpoint, lazy.backing
    write_file(mnt / "kept", b"synced", sync=True)
    sync_dir(mnt)
    write_file(mnt / "kept", b"overwritten, never synced", sync=False)
    write_file(mnt / "new", b"never synced", sync=False)
    assert (mnt / "kept").read_bytes() == b"overwritten, never synced"  # the page cache
    lazy.cut()
    with pytest.raises(OSError) as caught:
        (mnt / "kept").read_bytes()  # the power is off
    assert caught.value.errno == errno.EIO
    lazy.unmount()
    assert (disk / "kept").read_bytes() == b"synced"
    assert not (disk / "new").exists()
    # Mounted again, the disk is what programs see.
    lazy.mount()
    assert (mnt / "kept").read_bytes() == b"synced"
    assert lazy.stats()["cuts"] == 0  # a new daemon


def test_names_need_a_directory_fsync(lazy):
    mnt, disk = lazy.mountpoint, lazy.backing
    (mnt / "sub").mkdir()
    write_file(mnt / "sub" / "file", b"content", sync=True)  # content synced, name not
    write_file(mnt / "created-empty", b"", sync=False)
    sync_dir(mnt)  # "sub" and "created-empty" are durable names now; "sub" is empty
    write_file(mnt / "a", b"A", sync=True)
    sync_dir(mnt)
    os.rename(mnt / "a", mnt / "b")  # never made durable
    lazy.cut()
    lazy.unmount()
    assert sorted(p.name for p in disk.iterdir()) == ["a", "created-empty", "sub"]
    assert list((disk / "sub").iterdir()) == []
    assert (disk / "a").read_bytes() == b"A"


def test_a_name_made_durable_before_its_content_comes_back_empty(lazy):
    mnt, disk = lazy.mountpoint, lazy.backing
    write_file(mnt / "f", b"not synced", sync=False)
    sync_dir(mnt)
    lazy.cut()
    lazy.unmount()
    assert (disk / "f").read_bytes() == b""


def test_rename_into_place_without_fsync_loses_the_file(lazy):
    """The classic unsafe pattern: write a temporary file, rename it over the old one,
    sync the directory but never the file. After the cut the file is empty."""
    mnt, disk = lazy.mountpoint, lazy.backing
    write_file(mnt / "config", b"version 1", sync=True)
    sync_dir(mnt)
    write_file(mnt / ".config.tmp", b"version 2", sync=False)
    os.replace(mnt / ".config.tmp", mnt / "config")
    sync_dir(mnt)
    lazy.cut()
    lazy.unmount()
    assert (disk / "config").read_bytes() == b""  # neither version: the data is gone
    assert not (disk / ".config.tmp").exists()


def test_the_safe_pattern_survives(lazy):
    mnt, disk = lazy.mountpoint, lazy.backing
    write_file(mnt / ".config.tmp", b"version 2", sync=True)
    os.replace(mnt / ".config.tmp", mnt / "config")
    sync_dir(mnt)
    lazy.cut()
    lazy.unmount()
    assert (disk / "config").read_bytes() == b"version 2"


def test_sqlite_without_synchronous_loses_commits_and_with_full_keeps_them(lazy):
    """SQLite's own unsafe setting (``synchronous=OFF``) loses committed rows at a cut;
    ``synchronous=FULL`` in WAL mode, as the kiosk runs it, keeps every one."""
    mnt, disk = lazy.mountpoint, lazy.backing
    counts = {}
    for name, sync in (("off.db", "OFF"), ("full.db", "FULL")):
        conn = sqlite3.connect(mnt / name, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (n INTEGER, pad BLOB)")
        conn.execute("INSERT INTO t VALUES (0, randomblob(3000))")  # durable either way
        conn.execute(f"PRAGMA synchronous={sync}")
        for n in range(1, 200):
            conn.execute("INSERT INTO t VALUES (?, randomblob(3000))", (n,))
        counts[name] = conn
    lazy.cut()  # with both connections open, as a power cut finds them
    for conn in counts.values():
        with contextlib.suppress(sqlite3.Error):
            conn.close()
    lazy.unmount()
    rows = {}
    for name in ("off.db", "full.db"):
        with sqlite3.connect(disk / name) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows[name] = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    assert rows["full.db"] == 200
    # Committed, answered, and gone: only the row inserted while syncing is left.
    assert rows["off.db"] == 1, rows


def test_a_scheduled_cut_turns_the_power_off(lazy):
    mnt, disk = lazy.mountpoint, lazy.backing
    write_file(mnt / "a", b"first", sync=True)
    sync_dir(mnt)
    lazy.cut_after(3)  # open+truncate, write, then the fsync is the third: it never runs
    with pytest.raises(OSError) as caught:
        write_file(mnt / "a", b"second", sync=True)
    assert caught.value.errno == errno.EIO
    with pytest.raises(OSError):
        (mnt / "a").read_bytes()  # everything fails while the power is off
    assert lazy.stats()["off"] == 1
    lazy.unmount()
    assert (disk / "a").read_bytes() == b"first"


def test_a_synced_truncation_keeps_no_old_bytes(lazy):
    """Truncated, extended without writing, synced: the disk holds zeros, not old data."""
    mnt, disk = lazy.mountpoint, lazy.backing
    write_file(mnt / "f", b"secret data", sync=True)
    sync_dir(mnt)
    fd = os.open(mnt / "f", os.O_RDWR)
    try:
        os.ftruncate(fd, 0)
        os.ftruncate(fd, 11)
        os.fsync(fd)
    finally:
        os.close(fd)
    lazy.cut()
    lazy.unmount()
    assert (disk / "f").read_bytes() == bytes(11)
