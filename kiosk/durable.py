"""Make directory changes survive a power cut: directories created and renames done
are durable only once their parent directory is fsynced (POSIX; an SD card with a
journaling file system often keeps them anyway, but nothing promises it).

Blocking file operations; async callers run them in a thread.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Flush ``directory``'s entries (new names, renames, unlinks in it) to the disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path, mode: int = 0o700) -> None:
    """``mkdir -p path``, durably: each directory it creates is synced into its parent.

    Without this a power cut soon after the first start can take the whole data
    directory away, with the secrets and shares that were synced inside it.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=mode)
        except FileExistsError:
            continue  # another process made it: it syncs it too
        fsync_dir(directory.parent)
