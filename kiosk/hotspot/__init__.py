"""Field trips: the kiosk's own Wi-Fi, its own names, and phones that stay connected.

The machine side (``kiosk hotspot on|off|status|config``, run as root) lives in
:mod:`~kiosk.hotspot.control`: a NetworkManager access-point profile
(:mod:`~kiosk.hotspot.nmcli`) in shared mode, whose dnsmasq loads the kiosk's names
and probe answers (:mod:`~kiosk.hotspot.dnsmasq`).

The daemon side is :func:`setup`:

* the captive-portal middleware and ``/hotspot/welcome`` (:mod:`~kiosk.hotspot.portal`),
  active only for requests that arrive on ``hotspot_address``;
* a monitor task (every :data:`POLL_SECONDS`, file reads in a thread) that notes
  whether the hotspot address is up on this machine and how many devices hold a
  DHCP lease (:mod:`~kiosk.hotspot.leases`);
* the ``hotspot`` section of ``/api/kiosk/status``: on/off, client count, level and
  a warning when the count nears what the Pi's radio handles. No addresses, no
  names, no passphrase.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.hotspot.dnsmasq import NM_LEASE_DIR, local_names
from kiosk.hotspot.leases import assess, read_active_count
from kiosk.hotspot.nmcli import DEFAULT_IFNAME
from kiosk.hotspot.portal import (
    ACCEPT_PATH,
    WELCOME_PATH,
    ClientBook,
    make_accept,
    make_portal_middleware,
    welcome,
)
from kiosk.hotspot.state import read_choice, read_passphrase
from kiosk.keys import CONFIG
from kiosk.status import STATUS_SECTIONS

__all__ = ["HOTSPOT_BOOK", "HOTSPOT_STATE", "HotspotState", "hotspot_wifi", "setup"]

_LOGGER = logging.getLogger(__name__)

POLL_SECONDS = 5.0


@dataclass(slots=True)
class HotspotState:
    """The latest snapshot of the monitor (read by the status section)."""

    up: bool = False  # the hotspot address is on one of this machine's interfaces
    ssid: str | None = None
    open: bool | None = None
    ifname: str = DEFAULT_IFNAME
    clients: int | None = None  # devices holding a lease; None: no lease file
    checked_at: float | None = None
    lease_dir: Path = field(default=NM_LEASE_DIR)
    passphrase: str | None = field(default=None, repr=False)

    def as_json(self, config: KioskConfig, signed_in: int) -> dict[str, Any]:
        load = assess(self.clients or 0)
        return {
            "up": self.up, "address": config.hotspot_address, "ssid": self.ssid,
            "open": self.open, "names": local_names(config.name, config.hotspot_alias),
            "clients": self.clients, "level": load.level, "warning": load.message,
            "portal_signed_in": signed_in,
            "portal_ready": config.port == 80,
        }


HOTSPOT_STATE = web.AppKey("hotspot_state", HotspotState)
HOTSPOT_BOOK = web.AppKey("hotspot_book", ClientBook)


def hotspot_wifi(app: web.Application) -> tuple[str, str | None] | None:
    """``(ssid, passphrase or None when open)`` while the hotspot is up, for the join
    page's Wi-Fi QR code; None otherwise."""
    state = app[HOTSPOT_STATE]
    if not state.up or state.ssid is None:
        return None
    config = app[CONFIG]
    if state.open:
        return state.ssid, None
    return state.ssid, config.hotspot_password or state.passphrase


def _address_is_local(address: str) -> bool:
    return any(a.address == address for addrs in psutil.net_if_addrs().values()
               for a in addrs)


def refresh(state: HotspotState, config: KioskConfig) -> None:
    """Update the snapshot from the machine (blocking: run it in a thread)."""
    choice = read_choice(config.data_path)
    state.up = _address_is_local(config.hotspot_address)
    state.ifname = choice.ifname if choice is not None else DEFAULT_IFNAME
    state.ssid = choice.ssid if choice is not None else None
    state.open = choice.open if choice is not None else None
    state.passphrase = read_passphrase(config.data_path) if choice is not None else None
    state.clients = read_active_count(state.lease_dir / f"dnsmasq-{state.ifname}.leases",
                                      time.time())
    state.checked_at = time.time()


async def _monitor(app: web.Application) -> None:
    config, state = app[CONFIG], app[HOTSPOT_STATE]
    was_up: bool | None = None
    while True:
        try:
            await asyncio.to_thread(refresh, state, config)
        except OSError as exc:
            _LOGGER.warning("cannot read the hotspot's state: %s", exc)
        if state.up != was_up:
            if state.up or was_up is not None:
                _LOGGER.info("hotspot %s on %s", "up" if state.up else "down",
                             config.hotspot_address)
            was_up = state.up
        load = assess(state.clients or 0)
        if load.message and state.up:
            _LOGGER.debug("%s", load.message)
        await asyncio.sleep(POLL_SECONDS)


async def _monitor_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_monitor(app), name="kiosk-hotspot-monitor")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _status_section(app: web.Application) -> dict[str, Any]:
    return app[HOTSPOT_STATE].as_json(app[CONFIG], app[HOTSPOT_BOOK].signed_in())


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the captive-portal middleware and pages, the monitor and the status section."""
    book = ClientBook()
    app[HOTSPOT_BOOK] = book
    app[HOTSPOT_STATE] = HotspotState()
    app.middlewares.append(make_portal_middleware(config.hotspot_address, book))
    app.router.add_get(WELCOME_PATH, welcome, name="hotspot-welcome")
    app.router.add_post(ACCEPT_PATH, make_accept(book), name="hotspot-accept")
    app.cleanup_ctx.append(_monitor_ctx)
    app[STATUS_SECTIONS]["hotspot"] = _status_section
