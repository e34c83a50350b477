"""Back up a kiosk's data directory and restore it, e.g. onto a new SD card.

A backup is a folder: ``shares.sqlite3`` (made with SQLite's online backup API, so a
kiosk may keep serving meanwhile), every secret and small state file of the data
directory (signing key, admin secret, kiosk-id, hotspot passphrase, ...), and
``kiosk-backup.json`` listing each file with its SHA-256 and the schema version. Every
file is mode 0600, the folder 0700: it holds students' work and the kiosk's keys.

``restore`` checks the backup first (hashes, ``PRAGMA integrity_check``, a schema this
kiosk knows), refuses while a kiosk serves the target data directory (a running kiosk
holds a shared ``flock`` on ``kiosk.lock`` there: :func:`hold_serving_lock`), moves
whatever the target held into ``before-restore-<time>/`` (nothing is ever lost) and
copies the backup in. Also here: :func:`schema_version` reads a store's schema version
from the file header without opening it for writing, so a data directory from a newer
kiosk is refused before anything touches it. Everything blocks (a CLI, or a thread).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk import __version__
from kiosk.durable import fsync_dir, make_dirs
from kiosk.errors import KioskError, StartupError

DB_FILE = "shares.sqlite3"
MANIFEST = "kiosk-backup.json"
LOCK_FILE = "kiosk.lock"
# Small files of the data directory that are part of a kiosk's identity and state.
STATE_FILES = ("sharing-signing.key", "admin-secret", "kiosk-id", "hotspot-passphrase",
               "hotspot.json", "clock.json", "bundles-dir")
_BUSY_MS = 5000


class BackupError(KioskError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    files: dict[str, str]
    shares: int
    schema: int


def known_schema() -> int:
    """The newest store file format (``PRAGMA user_version``) this kiosk knows.

    Newer migrations of one capability inside a known format are refused by
    :class:`kiosk.db.Database` itself, before it changes anything.
    """
    from kiosk.db import SCHEMA_FORMAT

    return SCHEMA_FORMAT


def schema_version(db: Path) -> int | None:
    """``PRAGMA user_version`` of an SQLite file, read from its header (None: no file).

    The header is committed with the database; a version changed only in a WAL not yet
    checkpointed is missed, which errs on the side of the older (refusable) answer.
    """
    try:
        with db.open("rb") as fh:
            header = fh.read(100)
    except FileNotFoundError:
        return None
    if len(header) == 0:
        return 0
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise BackupError(f"{db} is not an SQLite database")
    return int(struct.unpack(">I", header[60:64])[0])


def refuse_newer_schema(data_dir: Path) -> None:
    """Stop a start on a data directory written by a newer kiosk, touching nothing."""
    version = schema_version(data_dir / DB_FILE)
    known = known_schema()
    if version is not None and version > known:
        raise StartupError(
            f"the data directory {data_dir} was written by a newer kiosk (share store "
            f"schema {version}; this kiosk {__version__} knows up to {known}); upgrade the "
            "kiosk, or restore a backup made by this version. Nothing was changed.")


def hold_serving_lock(data_dir: Path) -> int:
    """Take a shared lock on ``<data_dir>/kiosk.lock`` for as long as the kiosk serves.

    Returns the file descriptor (close it to release). Several kiosks may hold it;
    ``restore`` needs it exclusively, so it cannot run under a serving kiosk.
    """
    make_dirs(data_dir)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    _flock(fd, exclusive=False)
    return fd


def _flock(fd: int, *, exclusive: bool) -> None:
    """``flock`` the file; exclusive ones do not wait (BlockingIOError if held).

    Windows (a USB stick's launcher) has no ``flock``: there the lock is not taken.
    """
    if sys.platform == "win32":
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_private(src: Path, dest: Path) -> None:
    """Copy a file to ``dest`` with mode 0600, fsynced, through a temporary name."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            shutil.copyfileobj(inp, out)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _take_directory_owner(path: Path) -> None:
    """As root (``sudo kiosk restore``), give ``path`` the data directory's owner: the
    service's own user must be able to open what was restored."""
    if sys.platform == "win32" or os.geteuid() != 0:
        return
    st = path.parent.stat()
    if (st.st_uid, st.st_gid) != (0, 0):
        os.chown(path, st.st_uid, st.st_gid)


def _online_copy(src: Path, dest: Path) -> None:
    """Copy an SQLite database with the online backup API into a new 0600 file."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source = sqlite3.connect(f"{src.as_uri()}?mode=ro", uri=True, timeout=_BUSY_MS / 1000)
    try:
        target = sqlite3.connect(tmp)
        try:
            source.backup(target, pages=256)
            # A single file: the copy does not depend on a -wal beside it.
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
    finally:
        source.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    tmp.replace(dest)


def _check_db(db: Path) -> tuple[int, int]:
    """``(schema, shares)`` of a backed-up store after ``integrity_check``; or BackupError."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"{db} fails SQLite's integrity check: {result}")
        schema = int(conn.execute("PRAGMA user_version").fetchone()[0])
        shares = int(conn.execute("SELECT count(*) FROM shares").fetchone()[0]) if schema else 0
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{db} is not a usable share store: {exc}") from None
    finally:
        conn.close()
    return schema, shares


def backup(data_dir: Path, dest: Path) -> BackupReport:
    """Write a backup of ``data_dir`` into the new (or empty) folder ``dest``."""
    db = data_dir / DB_FILE
    if not db.is_file():
        raise BackupError(f"no share store in {data_dir}: is this the kiosk's data "
                          "directory? (see 'kiosk status')")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder; choose a new one")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)
    _online_copy(db, dest / DB_FILE)
    schema, shares = _check_db(dest / DB_FILE)
    files = {DB_FILE: _sha256(dest / DB_FILE)}
    for name in STATE_FILES:
        if (data_dir / name).is_file():
            _copy_private(data_dir / name, dest / name)
            files[name] = _sha256(dest / name)
    manifest = {"kiosk": __version__, "created_at": time.time(), "schema": schema,
                "shares": shares, "files": files}
    fd = os.open(dest / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(dest)
    return BackupReport(dest, files, shares, schema)


def verify_backup(src: Path) -> BackupReport:
    """Check a backup folder: manifest, hashes, integrity and a schema this kiosk knows."""
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except FileNotFoundError:
        raise BackupError(f"{src} is not a kiosk backup (no {MANIFEST})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{src / MANIFEST} is unreadable: {exc}") from None
    if DB_FILE not in files:
        raise BackupError(f"{src} holds no share store")
    for name, digest in files.items():
        if name != Path(name).name or name not in (DB_FILE, *STATE_FILES):
            raise BackupError(f"{src / MANIFEST} names an unexpected file {name!r}")
        path = src / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{path} is missing or damaged (its SHA-256 differs from the "
                              "backup's list); use another copy of the backup")
    schema, shares = _check_db(src / DB_FILE)
    if schema > known_schema():
        raise BackupError(f"{src} was made by a newer kiosk (schema {schema}; this kiosk "
                          f"knows up to {known_schema()}); upgrade this kiosk first")
    return BackupReport(src, files, shares, schema)


def restore(src: Path, data_dir: Path) -> tuple[BackupReport, Path | None]:
    """Restore the backup ``src`` into ``data_dir`` (no kiosk may be serving it).

    Returns the report and the folder the previous contents were moved to (None if the
    data directory held nothing to keep).
    """
    report = verify_backup(src)
    make_dirs(data_dir)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    try:
        try:
            _flock(fd, exclusive=True)
        except BlockingIOError:
            raise BackupError(
                f"a kiosk is serving {data_dir}: stop it first ('sudo systemctl stop kiosk' "
                "or Ctrl-C in its terminal), then restore") from None
        kept = _move_aside(data_dir)
        _online_copy(src / DB_FILE, data_dir / DB_FILE)
        for name in report.files:
            if name != DB_FILE:
                _copy_private(src / name, data_dir / name)
        for name in (*report.files, LOCK_FILE):
            _take_directory_owner(data_dir / name)
        fsync_dir(data_dir)
        _check_db(data_dir / DB_FILE)
    finally:
        os.close(fd)
    return report, kept


def _move_aside(data_dir: Path) -> Path | None:
    """Move the store and state files into ``before-restore-<time>/`` (if any)."""
    names = [n for n in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", *STATE_FILES)
             if (data_dir / n).exists()]
    if not names:
        return None
    stamp = time.strftime("before-restore-%Y%m%dT%H%M%S")
    kept, n = data_dir / stamp, 1
    while kept.exists():
        n += 1
        kept = data_dir / f"{stamp}-{n}"
    kept.mkdir(mode=0o700)
    for name in names:
        os.replace(data_dir / name, kept / name)
    fsync_dir(kept)
    return kept
