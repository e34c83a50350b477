"""What ``kiosk hotspot on`` leaves in the data directory for the daemon to read.

* ``hotspot-passphrase`` (mode 0600): the generated WPA2 passphrase, made once and
  reused, so the Wi-Fi QR code on posters stays valid; only used when
  ``hotspot_password`` is not set.
* ``hotspot.json`` (mode 0600): ``{"ssid", "open", "ifname"}``, the choices of the
  last ``hotspot on``, so the daemon knows which lease file to count and what the
  join page's Wi-Fi code should say.

``kiosk hotspot on`` runs as root, the service as its own user (systemd
``DynamicUser``): files written by root take the data directory's owner so the
service can read them. All functions block (file I/O); async callers use a thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.errors import StartupError
from kiosk.hotspot.nmcli import DEFAULT_IFNAME, check_passphrase, generate_passphrase

_LOGGER = logging.getLogger(__name__)

PASSPHRASE_FILE = "hotspot-passphrase"
STATE_FILE = "hotspot.json"


@dataclass(frozen=True, slots=True)
class HotspotChoice:
    """The settings of the last ``kiosk hotspot on``."""

    ssid: str
    open: bool
    ifname: str = DEFAULT_IFNAME

    def as_json(self) -> dict[str, Any]:
        return {"ssid": self.ssid, "open": self.open, "ifname": self.ifname}


def _write_private(path: Path, text: str, *, replace: bool) -> bool:
    """Write ``text`` to ``path`` with mode 0600, atomically; with ``replace=False``
    keep an existing file. Returns whether this call wrote the file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _take_directory_owner(tmp)
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # fails if the file exists: then the existing one counts
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _take_directory_owner(path: Path) -> None:
    """As root, give ``path`` the owner of its directory (the service's user)."""
    if os.geteuid() != 0:
        return
    st = path.parent.stat()
    if (st.st_uid, st.st_gid) != (0, 0):
        os.chown(path, st.st_uid, st.st_gid)


def load_or_create_passphrase(data_dir: Path) -> str:
    """The stored hotspot passphrase, generating a readable one on first use."""
    path = data_dir / PASSPHRASE_FILE
    if not path.exists() and _write_private(path, generate_passphrase() + "\n",
                                            replace=False):
        _LOGGER.info("generated a new hotspot passphrase in %s", path)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, 0o600)
    value = path.read_text(encoding="utf-8").strip()
    if (problem := check_passphrase(value)) is not None:
        raise StartupError(f"the hotspot passphrase in {path} {problem}; delete the file to "
                           "generate a new one")
    return value


def read_passphrase(data_dir: Path) -> str | None:
    """The stored passphrase, or None when none was generated (or it is unreadable)."""
    try:
        return (data_dir / PASSPHRASE_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def save_choice(data_dir: Path, choice: HotspotChoice) -> None:
    """Record the settings of ``hotspot on`` for the daemon."""
    _write_private(data_dir / STATE_FILE, json.dumps(choice.as_json()) + "\n", replace=True)


def clear_choice(data_dir: Path) -> None:
    """Forget the hotspot (``hotspot off``)."""
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STATE_FILE).unlink()


def read_choice(data_dir: Path) -> HotspotChoice | None:
    """The recorded choice, or None (never turned on, turned off, or unreadable)."""
    try:
        data = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
        return HotspotChoice(ssid=str(data["ssid"]), open=bool(data["open"]),
                             ifname=str(data.get("ifname", DEFAULT_IFNAME)))
    except (OSError, ValueError, KeyError, TypeError):
        return None
