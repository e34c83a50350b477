"""Pre-compressed siblings: ``x.js.br`` (brotli) and ``x.js.gz`` (gzip 9) next to ``x.js``.

The static server sends a sibling instead of the file when the browser accepts that
encoding, so each is written only when it is worth it: at least :data:`MIN_SAVING`
smaller than the original. Already-compressed formats (wheels, zips, images) are not
tried at all. Blocking; the builder calls it, never the server's event loop.

Brotli runs at :data:`BROTLI_QUALITY`, chosen by measuring (``bench/compression_levels.py``,
figures in ``docs/performance.md``): on the science bundle's 28 MiB of text, quality 9
takes ~4 s of CPU where 11 takes ~80 s, for ~0.7 MiB more out of the ~59 MiB a student
downloads. Files are compressed largest first on a thread pool (brotli and zlib release
the GIL: two threads run in the time of one), each distinct content once per build, and
with a cache directory never again: outputs are kept there by the sha256 of the input
and the codec's settings, shared by every profile and build.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import brotli

#: brotli quality (0-11) and window (log2 bytes): see the module docstring
BROTLI_QUALITY = 9
BROTLI_WINDOW = 22
#: a sibling must be at least this much smaller than its file to be kept (10 %)
MIN_SAVING = 0.10
#: files smaller than this are not worth a sibling (one TCP segment anyway)
MIN_SIZE = 256
#: suffixes of text-like formats that usually compress well
COMPRESSIBLE = frozenset({
    ".js", ".mjs", ".cjs", ".css", ".html", ".htm", ".json", ".map", ".svg", ".txt",
    ".md", ".wasm", ".ipynb", ".csv", ".xml", ".webmanifest", ".ico", ".ttf", ".otf",
    ".eot", ".py", ".d.ts", ".tsv", ".ts", ".yml", ".yaml", ".toml", ".data", ".asm.js",
})


def gzip_bytes(data: bytes) -> bytes:
    """gzip level 9 with a zero mtime, so builds are reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as fh:
        fh.write(data)
    return buf.getvalue()


def brotli_bytes(data: bytes) -> bytes:
    """Brotli at :data:`BROTLI_QUALITY` and :data:`BROTLI_WINDOW`."""
    result: bytes = brotli.compress(data, quality=BROTLI_QUALITY, lgwin=BROTLI_WINDOW)
    return result


CODECS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "br": (".br", brotli_bytes),
    "gzip": (".gz", gzip_bytes),
}

#: part of each cached output's name: a change of settings never reuses an old output
CODEC_TAGS = {"br": f"q{BROTLI_QUALITY}w{BROTLI_WINDOW}", "gzip": "9"}


def is_compressible(path: Path) -> bool:
    """Whether a file's format is worth trying to compress."""
    name = path.name.lower()
    return any(name.endswith(ext) for ext in COMPRESSIBLE)


def worth_keeping(original: int, compressed: int) -> bool:
    """True when ``compressed`` saves at least :data:`MIN_SAVING` of ``original``."""
    return original >= MIN_SIZE and compressed <= original * (1 - MIN_SAVING)


@dataclass(frozen=True, slots=True)
class CompressionStats:
    """Totals over a bundle: raw bytes and what each encoding would send."""

    files: int
    raw: int
    encoded: dict[str, int]


def _cached_path(cache_dir: Path, key: str, encoding: str) -> Path:
    suffix = CODECS[encoding][0]
    return cache_dir / key[:2] / f"{key}-{CODEC_TAGS[encoding]}{suffix}"


def _store(path: Path, packed: bytes) -> None:
    """Write ``packed`` under ``path`` atomically (other builds may read the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_bytes(packed)
    tmp.replace(path)


def _encode(data: bytes, key: str, cache_dir: Path | None) -> dict[str, bytes]:
    """Every encoding of ``data``: from the cache when there, else computed (and kept)."""
    out: dict[str, bytes] = {}
    for encoding, (_, codec) in CODECS.items():
        cached = _cached_path(cache_dir, key, encoding) if cache_dir is not None else None
        if cached is not None and cached.is_file():
            out[encoding] = cached.read_bytes()
            continue
        out[encoding] = codec(data)
        if cached is not None:
            _store(cached, out[encoding])
    return out


def _write_siblings(path: Path, size: int, packed: dict[str, bytes]) -> dict[str, int]:
    written: dict[str, int] = {}
    for encoding, blob in packed.items():
        sibling = path.with_name(path.name + CODECS[encoding][0])
        if worth_keeping(size, len(blob)):
            sibling.write_bytes(blob)
            written[encoding] = len(blob)
        else:
            sibling.unlink(missing_ok=True)
    return written


def compress_file(path: Path, cache_dir: Path | None = None) -> dict[str, int]:
    """Write the siblings of one file that are worth it; return their sizes by encoding.

    With ``cache_dir``, results are kept there by the sha256 of the input, so an
    unchanged file is not compressed again by the next build.
    """
    data = path.read_bytes()
    if not is_compressible(path) or len(data) < MIN_SIZE:
        return {}
    key = hashlib.sha256(data).hexdigest()
    return _write_siblings(path, len(data), _encode(data, key, cache_dir))


class _OncePerContent:
    """Compress each distinct content once, however many files of the build hold it."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._results: dict[str, tuple[threading.Event, dict[str, bytes]]] = {}

    def encode(self, data: bytes) -> dict[str, bytes]:
        key = hashlib.sha256(data).hexdigest()
        with self._lock:
            known = self._results.get(key)
            if known is None:
                self._results[key] = (threading.Event(), {})
        if known is not None:
            known[0].wait()
            return known[1]
        done, result = self._results[key]
        try:
            result.update(_encode(data, key, self.cache_dir))
        finally:
            done.set()
        if not result:  # the first attempt failed: this one raises the same way
            return _encode(data, key, self.cache_dir)
        return result


def _compress_one(path: Path, once: _OncePerContent) -> tuple[int, dict[str, int]]:
    data = path.read_bytes()
    if not is_compressible(path) or len(data) < MIN_SIZE:
        return len(data), {}
    return len(data), _write_siblings(path, len(data), once.encode(data))


def compress_tree(root: Path, *, progress: Callable[[int, int], None] | None = None,
                  workers: int | None = None, cache_dir: Path | None = None
                  ) -> CompressionStats:
    """Compress every eligible file under ``root``: largest first, on a thread pool."""
    workers = workers or os.cpu_count() or 2
    files = [p for p in root.rglob("*")
             if p.is_file() and not p.is_symlink() and not p.name.endswith((".br", ".gz"))]
    # Largest first: the 10 MiB wasm must not start last and leave one core idle.
    files.sort(key=lambda p: (-p.stat().st_size, str(p)))
    once = _OncePerContent(cache_dir)
    raw = 0
    encoded = {enc: 0 for enc in CODECS}
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, workers),
                            thread_name_prefix="kiosk-compress") as pool:
        for size, sizes in pool.map(lambda p: _compress_one(p, once), files):
            raw += size
            for enc in CODECS:
                encoded[enc] += sizes.get(enc, size)
            done += 1
            if progress is not None:
                progress(done, len(files))
    return CompressionStats(len(files), raw, encoded)
