"""Free space in the data directory: one probe for the health check, the share store's
507 guard and ``kiosk doctor``.

:func:`measure` is the blocking measurement (a directory that does not exist yet is
measured where it will be created). :class:`DiskProbe` runs it in a thread and reuses
the answer for ``ttl`` seconds, so a burst of shares costs one ``statvfs``.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

#: how long one measurement is reused
DISK_CACHE_SECONDS = 5.0


def measure(path: Path) -> tuple[int, int]:
    """``(free, total)`` bytes on the file system that holds (or will hold) ``path``."""
    while not path.exists() and path != path.parent:
        path = path.parent
    usage = shutil.disk_usage(path)
    return usage.free, usage.total


class DiskProbe:
    """Free space of one directory, measured in a thread and reused for ``ttl`` seconds."""

    def __init__(self, path: Path, *, ttl: float = DISK_CACHE_SECONDS) -> None:
        self.path = path
        self.ttl = ttl
        self._usage: tuple[int, int] | None = None
        self._at = 0.0

    async def usage(self) -> tuple[int, int]:
        """``(free, total)`` bytes (raises ``OSError`` if it cannot be measured)."""
        now = time.monotonic()
        if self._usage is None or now - self._at > self.ttl:
            self._usage = await asyncio.to_thread(measure, self.path)
            self._at = now
        return self._usage
