"""Decode QR codes the way a phone would see them: from images, with zbarimg.

Shared by tests/test_qr_*.py and tests/test_discovery_netns.py. The terminal QR code
is turned into an image here (each character cell drawn as a terminal draws block
elements: two modules stacked, dark on light), with no imaging library needed.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELLS = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


def require_zbar() -> str:
    path = shutil.which("zbarimg")
    if path is None:
        pytest.fail("zbarimg is missing: apt-get install zbar-tools (make test-deps)")
    return path


def zbar_decode(image: Path) -> list[str]:
    """Every QR code zbarimg finds in ``image`` (empty list if none)."""
    zbar = require_zbar()
    proc = subprocess.run([zbar, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(image)],
                          capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode not in (0, 4):  # 4: no symbol found
        pytest.fail(f"zbarimg failed ({proc.returncode}): {proc.stderr}")
    return [line for line in proc.stdout.splitlines() if line]


def write_png(path: Path, rows: list[list[bool]], scale: int = 6, margin: int = 4) -> None:
    """A greyscale PNG of a module matrix (True = dark), with a white margin."""
    width = max((len(r) for r in rows), default=0)
    padded = [r + [False] * (width - len(r)) for r in rows]
    blank = [False] * width
    full = [blank] * margin + padded + [blank] * margin
    raw = bytearray()
    for row in full:
        line = bytes([255] * margin * scale)
        line += b"".join(bytes([0 if dark else 255] * scale) for dark in row)
        line += bytes([255] * margin * scale)
        for _ in range(scale):
            raw += b"\x00" + line
    w = (width + 2 * margin) * scale
    h = len(full) * scale

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def terminal_qr_to_png(text: str, path: Path) -> None:
    """Render half-block QR text (optionally with ANSI colours) as a terminal shows it
    on a light background: every character cell is two modules stacked."""
    rows: list[list[bool]] = []
    for line in _ANSI.sub("", text).splitlines():
        top, bottom = [], []
        for ch in line:
            t, b = _CELLS.get(ch, (False, False))
            top.append(t)
            bottom.append(b)
        rows += [top, bottom]
    write_png(path, rows)


def banner_qr(lines: list[str]) -> str:
    """The QR code block of the start banner (the lines after 'Scan to open ...')."""
    for i, line in enumerate(lines):
        if "Scan to open" in line:
            block = []
            for qr_line in lines[i + 1:]:
                stripped = _ANSI.sub("", qr_line)
                if stripped and set(stripped) - set(_CELLS):
                    break
                block.append(qr_line)
            return "\n".join(block)
    raise AssertionError("no QR code in the banner:\n" + "\n".join(lines))
