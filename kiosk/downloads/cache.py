"""The download cache: files fetched for notebooks, kept on disk for offline use.

One entry per URL: ``<sha256(url)>.body`` and a ``.json`` with the URL, type and
time. Entries are written to a temporary name and renamed, so a crash never leaves
a half-written file under a real name. All functions block: call them in a thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CachedFile:
    """What the cache knows about one downloaded URL."""

    url: str
    content_type: str
    size: int
    fetched_at: float
    body: Path

    def age(self) -> float:
        return time.time() - self.fetched_at


class DownloadCache:
    """A folder of downloaded files keyed by URL, at most ``quota_bytes`` in all.

    When a new file would take the folder over its quota, or the disk's free space
    below ``reserve_bytes`` (the room shares need), the files fetched longest ago are
    removed first; a file that cannot fit even then is refused.
    """

    def __init__(self, root: Path, *, quota_bytes: int | None = None,
                 reserve_bytes: int = 0) -> None:
        self.root = root
        self.quota_bytes = quota_bytes
        self.reserve_bytes = reserve_bytes

    def free_bytes(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def make_room(self, size: int, *, keep: str | None = None) -> bool:
        """Evict the oldest entries until ``size`` more bytes fit; False if they cannot.

        ``size`` counts bytes not yet on disk; ``keep`` names a URL never to evict.
        """
        entries = sorted((e for e in self.entries() if e.url != keep),
                         key=lambda e: e.fetched_at)
        total = sum(e.size for e in self.entries())

        def fits() -> bool:
            over_quota = self.quota_bytes is not None and total + size > self.quota_bytes
            return not over_quota and self.free_bytes() - size >= self.reserve_bytes

        while not fits():
            if not entries:
                return False
            oldest = entries.pop(0)
            self.remove(oldest.url)
            total -= oldest.size
        return True

    def _key(self, url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()

    def get(self, url: str) -> CachedFile | None:
        key = self._key(url)
        meta_path = self.root / f"{key}.json"
        body = self.root / f"{key}.body"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            size = body.stat().st_size
        except (OSError, ValueError):
            return None
        if meta.get("url") != url or meta.get("size") != size:
            return None
        return CachedFile(url, str(meta.get("content_type") or "application/octet-stream"),
                          size, float(meta.get("fetched_at", 0)), body)

    def temp_path(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f".part-{os.getpid()}-{time.monotonic_ns()}"

    def commit(self, url: str, temp: Path, content_type: str) -> CachedFile:
        """Move a fully downloaded temp file into the cache under ``url``."""
        key = self._key(url)
        body = self.root / f"{key}.body"
        size = temp.stat().st_size
        temp.replace(body)
        entry = CachedFile(url, content_type, size, time.time(), body)
        meta = {k: v for k, v in asdict(entry).items() if k != "body"}
        tmp_meta = self.root / f".{key}.json.tmp"
        tmp_meta.write_text(json.dumps(meta), encoding="utf-8")
        tmp_meta.replace(self.root / f"{key}.json")
        return entry

    def store_bytes(self, url: str, data: bytes, content_type: str) -> CachedFile:
        """Keep ``data`` under ``url`` as if it had been downloaded (a teacher's upload)."""
        temp = self.temp_path()
        try:
            temp.write_bytes(data)
            return self.commit(url, temp, content_type)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def remove(self, url: str) -> bool:
        """Forget ``url``: delete its body and metadata. False if it was not cached."""
        key = self._key(url)
        found = self.get(url) is not None
        for path in (self.root / f"{key}.json", self.root / f"{key}.body"):
            path.unlink(missing_ok=True)
        return found

    def entries(self) -> list[CachedFile]:
        out: list[CachedFile] = []
        if not self.root.is_dir():
            return out
        for meta_path in sorted(self.root.glob("*.json")):
            try:
                url = json.loads(meta_path.read_text(encoding="utf-8"))["url"]
            except (OSError, ValueError, KeyError):
                continue
            entry = self.get(url)
            if entry is not None:
                out.append(entry)
        return out
