"""Brotli quality against time and size on a real bundle: what ``compress.py`` should use.

Usage::

    python bench/compression_levels.py BUNDLE_DIR [--qualities 5,6,7,8,9,10,11]

Compresses every file of the bundle that the builder would compress, one file after
the other in this process (CPU seconds, not wall time on a shared machine), once per
brotli quality (window 22 and 24), and gzip 9 once, then prints a table: seconds,
total compressed size, and the size of the largest file (``pyodide.asm.wasm``), whose
download dominates a student's first load. Also checks whether brotli lets two
threads run at once (whether a thread pool is enough, or a process pool is needed).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import brotli

from kiosk.bundle.compress import MIN_SIZE, gzip_bytes, is_compressible


def _files(root: Path) -> list[bytes]:
    paths = sorted((p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                    and not p.name.endswith((".br", ".gz")) and is_compressible(p)),
                   key=lambda p: -p.stat().st_size)
    return [p.read_bytes() for p in paths if p.stat().st_size >= MIN_SIZE]


def _threads_overlap(data: bytes) -> float:
    """Wall time of two threads compressing ``data`` over the time of one (≈1: parallel)."""
    started = time.perf_counter()
    brotli.compress(data, quality=9)
    one = time.perf_counter() - started
    threads = [threading.Thread(target=brotli.compress, args=(data,),
                                kwargs={"quality": 9}) for _ in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - started) / one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--qualities", default="5,7,9,10,11")
    args = parser.parse_args()
    blobs = _files(args.bundle)
    raw = sum(len(b) for b in blobs)
    print(f"{len(blobs)} files, {raw / 2**20:.1f} MiB to compress; largest "
          f"{len(blobs[0]) / 2**20:.1f} MiB")
    print(f"two threads / one thread (brotli 9, largest file): "
          f"{_threads_overlap(blobs[0]):.2f}")
    started = time.process_time()
    gz = sum(len(gzip_bytes(b)) for b in blobs)
    print(f"gzip 9           {time.process_time() - started:6.1f} s  {gz / 2**20:6.2f} MiB")
    for quality in (int(q) for q in args.qualities.split(",")):
        for lgwin in (22, 24):
            started = time.process_time()
            sizes = [len(brotli.compress(b, quality=quality, lgwin=lgwin)) for b in blobs]
            took = time.process_time() - started
            print(f"brotli q{quality:<2} w{lgwin}  {took:6.1f} s  {sum(sizes) / 2**20:6.2f} MiB"
                  f"  largest {sizes[0] / 2**20:.2f} MiB", flush=True)


if __name__ == "__main__":
    main()
