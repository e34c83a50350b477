"""Which built bundle is active: a one-line text file ``<bundles_dir>/current``.

A text file (not a symlink) so the same layout works on a FAT32 USB stick. It is
replaced atomically (write a temporary file, then rename), so a running kiosk that
polls it never sees a half-written name, and a bundle directory is never modified
after it is built: a switch is only ever a change of this pointer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kiosk.durable import fsync_dir
from kiosk.errors import BundleError

POINTER_NAME = "current"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")


def current_bundle(bundles_dir: Path) -> Path | None:
    """The active bundle directory, or None when nothing was ever activated."""
    try:
        name = (bundles_dir / POINTER_NAME).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not _NAME_RE.fullmatch(name):
        raise BundleError(f"{bundles_dir / POINTER_NAME} holds an invalid bundle name {name!r}")
    return bundles_dir / name


def set_current(bundles_dir: Path, name: str) -> Path:
    """Make ``bundles_dir/name`` the active bundle, atomically."""
    if not _NAME_RE.fullmatch(name):
        raise BundleError(f"invalid bundle name {name!r}")
    target = bundles_dir / name
    if not target.is_dir():
        raise BundleError(f"no bundle named {name!r} in {bundles_dir}")
    tmp = bundles_dir / f".{POINTER_NAME}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(bundles_dir / POINTER_NAME)
    fsync_dir(bundles_dir)  # the rename itself: without this a power cut can undo the switch
    return target
