"""Pre-compressed siblings: ``x.js.br`` (brotli 11) and ``x.js.gz`` (gzip 9) next to ``x.js``.

The static server sends a sibling instead of the file when the browser accepts that
encoding, so each is written only when it is worth it: at least :data:`MIN_SAVING`
smaller than the original. Already-compressed formats (wheels, zips, images) are not
tried at all. Blocking; the builder calls it, never the server's event loop.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import brotli

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
    """Brotli quality 11 (the slowest and smallest; done once, at build time)."""
    result: bytes = brotli.compress(data, quality=11)
    return result


CODECS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "br": (".br", brotli_bytes),
    "gzip": (".gz", gzip_bytes),
}


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


def compress_file(path: Path, cache_dir: Path | None = None) -> dict[str, int]:
    """Write the siblings of one file that are worth it; return their sizes by encoding.

    With ``cache_dir``, results are kept there by the sha256 of the input, so an
    unchanged file is not compressed again by the next build (brotli 11 is slow).
    """
    data = path.read_bytes()
    written: dict[str, int] = {}
    if not is_compressible(path) or len(data) < MIN_SIZE:
        return written
    key = hashlib.sha256(data).hexdigest() if cache_dir is not None else ""
    for encoding, (suffix, codec) in CODECS.items():
        cached = cache_dir / key[:2] / (key + suffix) if cache_dir is not None else None
        if cached is not None and cached.is_file():
            packed = cached.read_bytes()
        else:
            packed = codec(data)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_name(f".{cached.name}.{threading.get_ident()}")
                tmp.write_bytes(packed)
                tmp.replace(cached)
        sibling = path.with_name(path.name + suffix)
        if worth_keeping(len(data), len(packed)):
            sibling.write_bytes(packed)
            written[encoding] = len(packed)
        else:
            sibling.unlink(missing_ok=True)
    return written


def compress_tree(root: Path, *, progress: Callable[[int, int], None] | None = None,
                  workers: int | None = None, cache_dir: Path | None = None
                  ) -> CompressionStats:
    """Compress every eligible file under ``root`` (threads: brotli releases the GIL)."""
    workers = workers or os.cpu_count() or 2
    from concurrent.futures import ThreadPoolExecutor

    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and not p.is_symlink()
                   and not p.name.endswith((".br", ".gz")))
    raw = 0
    encoded = {enc: 0 for enc in CODECS}
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, workers),
                            thread_name_prefix="kiosk-compress") as pool:
        results = pool.map(lambda p: compress_file(p, cache_dir), files)
        for path, sizes in zip(files, results, strict=True):
            size = path.stat().st_size
            raw += size
            for enc in CODECS:
                encoded[enc] += sizes.get(enc, size)
            done += 1
            if progress is not None:
                progress(done, len(files))
    return CompressionStats(len(files), raw, encoded)
