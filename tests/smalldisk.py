"""A real, small filesystem for disk-full tests: a tmpfs mounted for one test (root only)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size_mib: int) -> Iterator[Path]:
    """Mount a ``size_mib`` MiB tmpfs at ``where`` (created), lazily unmounted afterwards.

    Skips the test when not root or when the mount fails.
    """
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700",
                             "tmpfs", str(where)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {result.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path, leave_bytes: int) -> Path:
    """Write ``directory/filler`` until at most ``leave_bytes`` stay free; return its path."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("ab") as fh:
        while True:
            st = os.statvfs(directory)
            if st.f_bavail * st.f_frsize <= leave_bytes:
                break
            try:
                fh.write(chunk)
                fh.flush()
            except OSError:
                break
    return filler
