"""The start banner: the URLs to give students and a QR code to scan off the screen.

IP-literal URLs come first (phones often cannot resolve ``.local``), then the
``.local`` name for laptops; then the teacher's pages (``/join`` for the projector,
the A4 poster, the dashboard) and the exact command that prints the admin secret;
the QR code holds the first IP URL. It goes to stdout (the terminal, or journald
under systemd), not to the log: it is for people.
"""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from kiosk.qr import qr_ansi, qr_text


def secret_command(data_dir: Path, *, argv0: str | None = None,
                   under_systemd: bool | None = None, user: str | None = None,
                   euid: int | None = None) -> str:
    """The shell command that prints the admin secret of this very kiosk.

    Names the running executable by its absolute path (``kiosk`` is often not on the
    PATH: a virtualenv, ``/opt/kiosk/venv/bin``) and the data directory explicitly;
    under systemd as a service user, prefixed with ``sudo -u <user>`` (the secret file
    is readable by that user only).
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    program = Path(argv0)
    if program.name in {"kiosk", "kiosk.exe"}:
        parts = [str(program.resolve())]
    else:  # python -m kiosk
        parts = [sys.executable, "-m", "kiosk"]
    parts += ["admin", "secret", "--data-dir", str(data_dir.resolve())]
    if under_systemd is None:
        under_systemd = "INVOCATION_ID" in os.environ
    if under_systemd and (os.geteuid() if euid is None else euid) != 0:
        parts = ["sudo", "-u", user or getpass.getuser(), *parts]
    return shlex.join(parts)


def _page(base: str, path: str) -> str:
    return base.rstrip("/") + path


def _same(message: str) -> str:
    return message


def banner_text(*, name: str, ip_urls: Sequence[str], local_url: str | None,
                loopback_url: str | None, ansi: bool = False,
                secret_command: str | None = None,
                gettext: Callable[[str], str] = _same) -> str:
    """The banner as printed (pure), in the language of ``gettext``."""
    _ = gettext
    lines = [_("Kiosk '%(name)s' is serving. Students open:") % {"name": name}]
    lines += [f"  {url}" for url in ip_urls]
    if local_url:
        lines.append(f"  {local_url}   "
                     + _("(mDNS name: laptops, teachers, other kiosks)"))
    if not ip_urls:
        lines.append("  (" + (_("no network address yet; on this machine: %(url)s")
                              % {"url": loopback_url} if loopback_url
                              else _("no network address yet")) + ")")
    base = (ip_urls[0] if ip_urls else None) or local_url or loopback_url
    if base:
        lines.append(_("For the teacher:"))
        lines.append("  " + _("join page for the projector (QR codes): %(url)s")
                     % {"url": _page(base, "/join")})
        lines.append("  " + _("A4 poster to print: %(url)s")
                     % {"url": _page(base, "/join/poster.svg")})
        lines.append("  " + _("dashboard: %(url)s") % {"url": _page(base, "/admin")})
    if secret_command:
        lines.append("  " + _("its admin secret: %(command)s") % {"command": secret_command})
    if ip_urls:
        lines.append(_("Scan to open %(url)s") % {"url": ip_urls[0]})
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
