"""QR codes as SVG (for pages), text (for terminals) and Wi-Fi join payloads.

Pure functions: no I/O, no event loop. Generating one code takes a few ms (``qr_svg``
keeps recent ones); batches (posters) belong in a thread.
"""

from __future__ import annotations

import functools
import io
from html import escape

import qrcode
import qrcode.image.svg


def _make(data: str, border: int) -> qrcode.QRCode:
    if not data:
        raise ValueError("a QR code needs some data")
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


@functools.lru_cache(maxsize=128)
def qr_svg(data: str, *, border: int = 4, title: str | None = None) -> str:
    """An SVG document of the QR code for ``data``, scaling to its container.

    Cached: the landing and join pages render on the event loop and ask for the same
    few codes (one per address the kiosk is reached by) on every request.
    """
    qr = _make(data, border)
    image = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    buf = io.BytesIO()
    image.save(buf)
    svg = buf.getvalue().decode("utf-8")
    # Drop the XML declaration so the SVG can be inlined in HTML; fix the size to the box.
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2:].lstrip()
    if title:
        svg = svg.replace(">", f' role="img" aria-label="{escape(title)}">', 1)
    return svg


def qr_text(data: str, *, border: int = 2) -> str:
    """The QR code drawn with Unicode half blocks, two modules per character row."""
    qr = _make(data, border)
    matrix = qr.get_matrix()
    lines = []
    for y in range(0, len(matrix), 2):
        top = matrix[y]
        bottom = matrix[y + 1] if y + 1 < len(matrix) else [False] * len(top)
        row = []
        for t, b in zip(top, bottom, strict=True):
            # Dark modules print as spaces on a light terminal background inverse:
            # use full/half blocks for dark so it scans on dark-on-light and light-on-dark.
            row.append({(True, True): "█", (True, False): "▀", (False, True): "▄",
                        (False, False): " "}[(t, b)])
        lines.append("".join(row))
    return "\n".join(lines)


def _wifi_escape(value: str) -> str:
    """Escape a field of a WIFI: payload (backslash, ';', ',', ':' and '"')."""
    out = []
    for ch in value:
        if ch in '\\;,:"':
            out.append("\\")
        out.append(ch)
    return "".join(out)


def wifi_payload(ssid: str, password: str | None, *, hidden: bool = False) -> str:
    """The ``WIFI:`` string phones understand: WPA when a password is given, else open."""
    if not ssid:
        raise ValueError("a Wi-Fi QR code needs an SSID")
    parts = [f"T:{'WPA' if password else 'nopass'}", f"S:{_wifi_escape(ssid)}"]
    if password:
        parts.append(f"P:{_wifi_escape(password)}")
    if hidden:
        parts.append("H:true")
    return "WIFI:" + ";".join(parts) + ";;"


def qr_matrix(data: str, *, border: int = 4) -> list[list[bool]]:
    """The modules of the QR code for ``data`` (True = dark), quiet zone included."""
    return [list(row) for row in _make(data, border).get_matrix()]


def qr_svg_group(data: str, *, x: float, y: float, size: float) -> str:
    """An SVG ``<g>`` drawing the QR code (with its white quiet zone) in a ``size`` box
    at (x, y), for embedding in a larger SVG such as the printable poster."""
    matrix = qr_matrix(data, border=4)
    n = len(matrix)
    runs = []
    for row_index, row in enumerate(matrix):
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                runs.append(f"M{start},{row_index}h{col - start}v1h-{col - start}z")
            else:
                col += 1
    scale = size / n
    return (f'<g transform="translate({x:.3f},{y:.3f}) scale({scale:.5f})">'
            f'<rect width="{n}" height="{n}" fill="#fff"/>'
            f'<path d="{"".join(runs)}" fill="#000" shape-rendering="crispEdges"/></g>')


_ANSI_QR = "\x1b[30;107m"  # black on bright white, whatever the terminal's colours
_ANSI_RESET = "\x1b[0m"


def qr_ansi(data: str, *, border: int = 2) -> str:
    """:func:`qr_text` forced to black on white with ANSI colours, so it scans the
    same on a dark terminal (where plain blocks would come out inverted)."""
    return "\n".join(f"{_ANSI_QR}{line}{_ANSI_RESET}"
                     for line in qr_text(data, border=border).splitlines())
