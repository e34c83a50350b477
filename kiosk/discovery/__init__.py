"""Found on the LAN: mDNS announcement, other kiosks, the join page and the start banner.

``setup(app, config)`` adds the ``/join`` pages, the :data:`DISCOVERY_STATUS` key and
one serving hook (entered by :mod:`kiosk.server` once the socket is bound) that:

1. takes a snapshot of the interfaces and keeps it fresh (:class:`AddressMonitor`,
   a 2 s poll, damped), updating ``RuntimeInfo.urls`` and the status;
2. when ``mdns_enabled``, starts the :class:`Announcer`: one responder per
   interface, each answering with that interface's own addresses (services, host
   name, browsing for other kiosks), name conflicts at start and later (a check
   every ``mdns_conflict_check_interval`` s), and re-announces on every change;
3. prints the start banner (IP URLs, then ``<name>.local``, then a QR code).

On the way out it stops the monitor, then sends mDNS goodbyes and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from kiosk import __version__, i18n
from kiosk.config import KioskConfig
from kiosk.discovery.banner import (
    banner_text,
    secret_command,
    stdout_is_terminal,
    write_stdout,
)
from kiosk.discovery.interfaces import InterfaceAddresses, all_addresses
from kiosk.discovery.keys import DISCOVERY_STATUS
from kiosk.discovery.monitor import AddressMonitor
from kiosk.discovery.pages import add_routes
from kiosk.discovery.status import DiscoveryStatus, PeerKiosk
from kiosk.keys import CONFIG, RUNTIME, SERVING_HOOKS, RuntimeInfo
from kiosk.status import STATUS_SECTIONS
from kiosk.urls import API_PREFIX, ip_urls, reachable_addresses, url_for

if TYPE_CHECKING:
    from kiosk.discovery.announcer import Announcer

__all__ = ["DISCOVERY_STATUS", "DiscoveryStatus", "PeerKiosk", "setup"]

_LOGGER = logging.getLogger(__name__)

KIOSK_ID_FILE = "kiosk-id"
# How long the banner waits for the mDNS name before printing without it.
_BANNER_WAIT = 8.0


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the join pages, the discovery status (also as the ``discovery`` section of
    ``/api/kiosk/status``) and the serving hook."""
    status = DiscoveryStatus(enabled=config.mdns_enabled, requested_name=config.name)
    app[DISCOVERY_STATUS] = status
    app[STATUS_SECTIONS]["discovery"] = lambda _app: status.summary()
    app[SERVING_HOOKS].append(discovery_hook)
    add_routes(app)


def txt_for(config: KioskConfig, kiosk_id: str) -> dict[str, str | None]:
    """The ``_jupyter-kiosk._tcp`` TXT record."""
    return {"id": kiosk_id, "name": config.name, "version": __version__, "path": "/",
            "api": API_PREFIX, "sync": "on" if config.sync_enabled else "off",
            "scheme": "https" if config.tls_cert else "http"}


def _refresh_urls(config: KioskConfig, runtime: RuntimeInfo, status: DiscoveryStatus,
                  snapshot: tuple[InterfaceAddresses, ...]) -> None:
    status.interfaces = snapshot
    port = runtime.port if runtime.port is not None else config.port
    reachable = reachable_addresses(config.host, all_addresses(snapshot))
    urls = ip_urls(reachable, port, runtime.scheme)
    if urls != status.urls and status.urls:
        _LOGGER.info("the kiosk's address is now %s", urls[0] if urls else "(none)")
    status.urls = urls
    runtime.urls = list(urls)


def _load_kiosk_id(config: KioskConfig) -> str:
    from kiosk.secrets import load_or_create_secret

    return load_or_create_secret(config.data_path / KIOSK_ID_FILE, nbytes=9)


@contextlib.asynccontextmanager
async def discovery_hook(app: web.Application) -> AsyncIterator[None]:
    """Serving hook: watch addresses, announce, print the banner; undo it all on exit."""
    config = app[CONFIG]
    runtime = app[RUNTIME]
    status = app[DISCOVERY_STATUS]
    monitor = AddressMonitor(config.interfaces)
    snapshot = await monitor.start()
    _refresh_urls(config, runtime, status, snapshot)
    announcer: Announcer | None = None
    try:
        # zeroconf has no wheel for some laptops (Intel macOS): serve without mDNS there.
        from kiosk.discovery.announcer import Announcer
    except ImportError:
        _LOGGER.warning("mDNS is not available on this platform; students use the IP URL")
        status.enabled = False
    if config.mdns_enabled and status.enabled:
        status.kiosk_id = await asyncio.to_thread(_load_kiosk_id, config)
        announcer = Announcer(status, txt_for(config, status.kiosk_id),
                              check_interval=config.mdns_conflict_check_interval)
        assert runtime.port is not None
        announcer.start(runtime.port, snapshot)

    async def on_change(new: tuple[InterfaceAddresses, ...]) -> None:
        _refresh_urls(config, runtime, status, new)
        if announcer is not None:
            await announcer.update(new)

    monitor.subscribe(on_change)
    banner = asyncio.create_task(_print_banner(config, runtime, status, announcer),
                                 name="kiosk-discovery-banner")
    try:
        yield
    finally:
        banner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await banner
        await monitor.stop()
        if announcer is not None:
            await announcer.stop()


async def _print_banner(config: KioskConfig, runtime: RuntimeInfo, status: DiscoveryStatus,
                        announcer: Announcer | None) -> None:
    if announcer is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(announcer.announced.wait(), _BANNER_WAIT)
    port = runtime.port if runtime.port is not None else config.port
    local = (url_for(status.host_name, port, runtime.scheme)
             if status.host_name else None)
    any_host = config.host in {"0.0.0.0", "::"}
    loopback = url_for("127.0.0.1" if any_host else config.host, port, runtime.scheme)
    command = await asyncio.to_thread(secret_command, config.data_path)  # resolves paths
    # For the teacher at the terminal: the class's language (dashboard pin, setting), else
    # the system's locale, like the other commands (kiosk.cli.messages).
    pinned = await asyncio.to_thread(i18n.class_language, config.language, config.data_path)
    translations = await asyncio.to_thread(i18n.cli_translations, pinned)
    text = banner_text(name=config.name, ip_urls=status.urls, local_url=local,
                       loopback_url=loopback, ansi=stdout_is_terminal(),
                       secret_command=command, gettext=translations.gettext)
    await asyncio.to_thread(write_stdout, text)
