"""The share-page render worker: a separate process, so a hostile notebook costs only
its own render, which the kiosk can time out and kill.

Run as ``python -m kiosk.sharing.render_worker``. It reads frames from stdin (8-byte
big-endian length, then the notebook's JSON text) and writes one frame per request to
stdout: ``{"html": ...}`` or ``{"error": ...}``. Its address space is capped, so a
notebook that would need gigabytes to render fails here, not in the kiosk.
"""

from __future__ import annotations

import json
import resource
import struct
import sys
from typing import BinaryIO

#: Address-space cap of a worker (nbconvert and its imports need about 150 MiB).
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024
HEADER = struct.Struct(">Q")


def read_frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def write_frame(stream: BinaryIO, data: bytes) -> None:
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    from kiosk.sharing.render import render_html  # the heavy imports, once per worker

    render_html('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    write_frame(sys.stdout.buffer, b'{"ready": true}')
    while True:
        frame = read_frame(sys.stdin.buffer)
        if frame is None:
            return
        try:
            answer = {"html": render_html(frame.decode("utf-8"))}
        except (MemoryError, RecursionError) as exc:
            answer = {"error": f"too large to render ({type(exc).__name__})"}
        except Exception as exc:  # any notebook the exporter chokes on: the plain page
            answer = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        write_frame(sys.stdout.buffer, json.dumps(answer).encode("utf-8"))


if __name__ == "__main__":
    main()
