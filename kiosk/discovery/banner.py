"""The start banner: the URLs to give students and a QR code to scan off the screen.

IP-literal URLs come first (phones often cannot resolve ``.local``), then the
``.local`` name for laptops; the QR code holds the first IP URL. It goes to stdout
(the terminal, or journald under systemd), not to the log: it is for people.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kiosk.qr import qr_ansi, qr_text


def banner_text(*, name: str, ip_urls: Sequence[str], local_url: str | None,
                loopback_url: str | None, ansi: bool = False) -> str:
    """The banner as printed (pure)."""
    lines = [f"Kiosk '{name}' is serving. Students open:"]
    lines += [f"  {url}" for url in ip_urls]
    if local_url:
        lines.append(f"  {local_url}   (mDNS name: laptops, teachers, other kiosks)")
    if not ip_urls:
        lines.append("  (no network address yet"
                     + (f"; on this machine: {loopback_url}" if loopback_url else "") + ")")
    if ip_urls:
        lines.append(f"Scan to open {ip_urls[0]}")
        lines.append(qr_ansi(ip_urls[0]) if ansi else qr_text(ip_urls[0]))
    return "\n".join(lines) + "\n"


def write_stdout(text: str) -> None:
    """Write the banner to stdout and flush (blocking: call it in a thread)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
