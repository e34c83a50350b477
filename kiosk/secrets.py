"""Secrets the kiosk generates for itself on first start and keeps in its data directory.

There are no default passwords: the token-signing key and the teacher's admin secret
are random, written once with mode 0600 and read back on every later start. These are
blocking file operations; async callers run them in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

from kiosk.durable import fsync_dir, make_dirs
from kiosk.errors import StartupError

_LOGGER = logging.getLogger(__name__)

SIGNING_KEY_FILE = "sharing-signing.key"
ADMIN_SECRET_FILE = "admin-secret"


def signing_key_path(data_dir: Path) -> Path:
    """Where the HS256 key that signs sharing tokens lives."""
    return data_dir / SIGNING_KEY_FILE


def admin_secret_path(data_dir: Path) -> Path:
    """Where the teacher's admin secret lives (the dashboard reads the same file)."""
    return data_dir / ADMIN_SECRET_FILE


def min_length(nbytes: int) -> int:
    """Characters in ``secrets.token_urlsafe(nbytes)``: the shortest value accepted back."""
    return -(-nbytes * 4 // 3)


def load_or_create_secret(path: Path, *, nbytes: int = 32) -> str:
    """Return the secret stored at ``path``, creating a random one (mode 0600) if absent.

    A stored value shorter than what ``nbytes`` random bytes encode to is refused (a
    truncated or hand-edited file), so the reader and the writer use one length rule.
    Creation is atomic (a temporary file, fsynced, then linked into place), so two
    processes starting at once agree on one secret and a power cut never leaves an
    empty file behind.
    """
    shortest = min_length(nbytes)
    try:
        return _read(path, shortest)
    except FileNotFoundError:
        pass
    make_dirs(path.parent)
    value = secrets.token_urlsafe(nbytes)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(value + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            # link() fails if another process won the race; then its secret counts.
            os.link(tmp, path)
        except FileExistsError:
            return _read(path, shortest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)
    _LOGGER.info("generated a new secret in %s", path)
    return value


def _read(path: Path, shortest: int) -> str:
    st = path.stat()
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Someone loosened the mode (a backup restore, a copy): tighten it again.
        _LOGGER.warning("%s was readable by others; setting its mode to 0600", path)
        os.chmod(path, 0o600)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < shortest:
        raise StartupError(f"the secret in {path} is empty or too short; delete the file "
                           "and restart to generate a new one")
    return value
