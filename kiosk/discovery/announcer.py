"""Announce the kiosk with mDNS/DNS-SD: one owner of one ``AsyncZeroconf``.

What goes out, once the socket is bound and the real port known:

* ``<name>._http._tcp.local.`` (so Bonjour browsers list the kiosk) and
  ``<name>._jupyter-kiosk._tcp.local.`` (for kiosks and tools) with TXT records
  ``id``, ``name``, ``version``, ``path``, ``api``, ``sync``;
* the host name ``<name>.local.`` answering A and AAAA with the chosen interfaces'
  addresses.

Name conflicts. Before claiming ``<name>.local`` the announcer asks whether anyone
already answers for it (another kiosk, or avahi-daemon on this very machine, which
owns the machine's host name); if so it tries ``<name>-2.local``, ``<name>-3.local``
and so on, and the services take the same label. python-zeroconf's own probing
(``allow_name_change=True``) still renames a service instance that is taken while
the host name is free. Every rename is logged and kept in the status for the
teacher's dashboard.

Changes. :meth:`Announcer.update` takes a new set of interfaces (from the address
monitor): it rebinds python-zeroconf's sockets (``async_update_interfaces``), sends
goodbyes for addresses that went away and re-announces the records.

Shutdown sends goodbyes for every record and waits for them before closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import time
from collections.abc import Mapping

# AddressResolver, DNSAddress and DNSOutgoing are public names of the package (it
# re-exports them) that are missing from its __all__, hence the ignore.
from zeroconf import (  # type: ignore[attr-defined]
    AddressResolver,
    DNSAddress,
    DNSOutgoing,
    DNSQuestionType,
    IPVersion,
)
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from kiosk.discovery.browser import KioskBrowser
from kiosk.discovery.interfaces import InterfaceAddresses, all_addresses
from kiosk.discovery.names import (
    HTTP_TYPE,
    KIOSK_TYPE,
    SERVICE_TYPES,
    candidate_names,
    host_fqdn,
    instance_of,
    numbered,
    service_fqdn,
    txt_properties,
)
from kiosk.discovery.status import DiscoveryStatus

_LOGGER = logging.getLogger(__name__)

# DNS wire values (RFC 1035, RFC 6762 §10.2): a goodbye is an answer with TTL 0.
_FLAGS_RESPONSE_AUTHORITATIVE = 0x8000 | 0x0400
_TYPE_A = 1
_TYPE_AAAA = 28
_CLASS_IN_FLUSH = 0x0001 | 0x8000

Snapshot = tuple[InterfaceAddresses, ...]
# python-zeroconf's `interfaces`: IPv4 addresses and IPv6 interface indexes.
InterfacesType = list[str | int]


def zeroconf_interfaces(snapshot: Snapshot) -> tuple[InterfacesType, IPVersion]:
    """python-zeroconf's ``interfaces`` argument for a set of interfaces: IPv4 by
    address, IPv6 by interface index (it needs one or the other)."""
    v4 = [a for i in snapshot for a in i.ipv4]
    v6 = [i.index for i in snapshot if i.index is not None and (i.ipv6 or i.ipv6_link_local)]
    chosen: list[str | int] = [*v4, *v6]
    if v4 and v6:
        return chosen, IPVersion.All
    if v6:
        return chosen, IPVersion.V6Only
    return chosen, IPVersion.V4Only


class Announcer:
    """Owns the ``AsyncZeroconf``; ``start``/``update``/``stop`` run on the loop."""

    def __init__(self, status: DiscoveryStatus, txt: Mapping[str, str | None], *,
                 probe_timeout: float = 1.5) -> None:
        self.status = status
        self._txt = dict(txt)
        self._probe_ms = int(probe_timeout * 1000)
        self._azc: AsyncZeroconf | None = None
        self._browser: KioskBrowser | None = None
        self._infos: list[AsyncServiceInfo] = []
        self._addresses: list[str] = []
        self._zc_interfaces: InterfacesType = []
        self._port: int | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.announced = asyncio.Event()

    # -- public ---------------------------------------------------------------

    def start(self, port: int, snapshot: Snapshot) -> None:
        """Begin announcing on ``port`` in a named background task (probing takes a
        few seconds, and the network may not be up yet at boot)."""
        if self._task is not None:
            return
        self._port = port
        self._task = asyncio.create_task(self.update(snapshot),
                                         name="kiosk-discovery-announce")

    async def update(self, snapshot: Snapshot) -> None:
        """Announce, or re-announce after an interface or address change."""
        async with self._lock:
            if self._port is None:
                raise RuntimeError("Announcer.update before start")
            if not all_addresses(snapshot):
                if self._azc is None:
                    _LOGGER.info("mDNS: waiting for a network address to announce on")
                else:
                    _LOGGER.warning("mDNS: no network address left; the announcement "
                                    "resumes when one comes back")
                return
            try:
                if self._azc is None:
                    await self._first_announce(snapshot)
                else:
                    await self._reannounce(snapshot)
                self.status.error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.status.error = f"mDNS announcement failed: {exc}"
                _LOGGER.exception("mDNS announcement failed")

    async def stop(self) -> None:
        """Send goodbyes for every record, wait for them, stop browsing, close."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._lock:
            if self._azc is None:
                return
            await self._close(self._azc)
            _LOGGER.info("mDNS: goodbye sent, stopped announcing")

    # -- private --------------------------------------------------------------

    async def _first_announce(self, snapshot: Snapshot) -> None:
        assert self._port is not None
        zc_interfaces, ip_version = zeroconf_interfaces(snapshot)
        # Created here, inside the running loop, so python-zeroconf uses this loop
        # rather than starting a thread of its own.
        azc = AsyncZeroconf(interfaces=zc_interfaces, ip_version=ip_version)
        try:
            await self._claim(azc, snapshot, zc_interfaces)
        except BaseException:
            # Leave nothing half-started: the next network change retries from scratch.
            await self._close(azc)
            raise

    async def _claim(self, azc: AsyncZeroconf, snapshot: Snapshot,
                     zc_interfaces: InterfacesType) -> None:
        self._azc = azc
        self._zc_interfaces = zc_interfaces
        self._browser = KioskBrowser(azc, self.status.peers, self._is_self)
        self._browser.start()
        await azc.zeroconf.async_wait_for_start()

        label = await self._choose_host_label(azc)
        self._addresses = all_addresses(snapshot)
        infos = [self._service_info(type_, label) for type_ in SERVICE_TYPES]
        wanted = [info.name for info in infos]
        # Both services probe at once; each call returns once probing is done and hands
        # back the second stage, the announcements, awaited below.
        broadcasts = await asyncio.gather(
            *(azc.async_register_service(info, allow_name_change=True) for info in infos))
        self._infos = infos
        for info, name in zip(infos, wanted, strict=True):
            if info.name != name:
                self._conflict(f"the service name '{instance_of(name, info.type)}' is "
                               f"taken on the network; announced as "
                               f"'{instance_of(info.name, info.type)}'")
        await asyncio.gather(*broadcasts)
        self.status.host_name = host_fqdn(label).rstrip(".")
        self.status.service_names = {i.type: instance_of(i.name, i.type) for i in infos}
        self.status.announced = True
        self.status.announce_count += 1
        self.status.last_change = time.time()
        self.announced.set()
        _LOGGER.info("mDNS: announced as %s (services %s) on %s", self.status.host_name,
                     ", ".join(f"'{n}' {t}" for t, n in self.status.service_names.items()),
                     ", ".join(self._addresses))

    async def _close(self, azc: AsyncZeroconf) -> None:
        """Goodbyes for what was registered, stop browsing, close the sockets."""
        if self._browser is not None:
            await self._browser.stop()
            self._browser = None
        infos, self._infos = self._infos, []
        try:
            goodbyes = [await azc.async_unregister_service(info) for info in infos]
            await asyncio.gather(*goodbyes)
        except Exception:
            _LOGGER.warning("mDNS goodbyes failed", exc_info=True)
        self.status.announced = False
        self._azc = None
        await azc.async_close()

    async def _choose_host_label(self, azc: AsyncZeroconf) -> str:
        # A random pause first (RFC 6762 §8.1) so kiosks powered on together do not
        # probe in lockstep.
        await asyncio.sleep(random.uniform(0, 0.25))  # noqa: S311
        requested = self.status.requested_name
        for label in candidate_names(requested):
            owner = await self._host_owner(azc, label)
            if owner is None:
                return label
            self._conflict(f"{label}.local is already answered by "
                           f"{', '.join(owner) or 'another device'}; trying another name")
        fallback = numbered(requested, random.randint(100, 999))  # noqa: S311
        self._conflict(f"every name tried was taken; using {fallback}.local")
        return fallback

    async def _host_owner(self, azc: AsyncZeroconf, label: str) -> list[str] | None:
        """The addresses someone else answers for ``label.local``, or None if free."""
        resolver = AddressResolver(host_fqdn(label))
        # QM questions: the answers are multicast, so they reach our socket even when
        # avahi-daemon on this machine shares UDP 5353 with us.
        found = await resolver.async_request(azc.zeroconf, self._probe_ms,
                                             question_type=DNSQuestionType.QM)
        return resolver.parsed_addresses() if found else None

    def _service_info(self, type_: str, label: str) -> AsyncServiceInfo:
        assert self._port is not None
        props = {"path": "/"} if type_ == HTTP_TYPE else self._txt
        return AsyncServiceInfo(
            type_, service_fqdn(label, type_), port=self._port,
            properties=txt_properties(props), server=host_fqdn(label),
            parsed_addresses=self._addresses,
        )

    async def _reannounce(self, snapshot: Snapshot) -> None:
        azc = self._azc
        assert azc is not None
        addresses = all_addresses(snapshot)
        zc_interfaces, ip_version = zeroconf_interfaces(snapshot)
        if addresses == self._addresses and zc_interfaces == self._zc_interfaces:
            return
        removed = [a for a in self._addresses if a not in addresses]
        self._addresses = addresses
        # Update the registered records first: async_update_interfaces re-announces
        # them on any new socket, and they must carry the new addresses.
        for info in self._infos:
            info.addresses = addresses
        await azc.async_update_interfaces(zc_interfaces, ip_version)
        self._zc_interfaces = zc_interfaces
        if removed and self._infos:
            self._send_address_goodbyes(azc, self._infos[0].server or "", removed)
        updates = [await azc.async_update_service(info) for info in self._infos]
        await asyncio.gather(*updates)
        self.status.announce_count += 1
        self.status.last_change = time.time()
        _LOGGER.info("mDNS: re-announced %s with %s", self.status.host_name,
                     ", ".join(addresses))

    def _send_address_goodbyes(self, azc: AsyncZeroconf, server: str,
                               removed: list[str]) -> None:
        """TTL-0 A/AAAA records for addresses we no longer have, so caches drop them now
        rather than when their 120 s TTL runs out."""
        out = DNSOutgoing(_FLAGS_RESPONSE_AUTHORITATIVE)
        for address in removed:
            ip = ipaddress.ip_address(address)
            type_ = _TYPE_A if ip.version == 4 else _TYPE_AAAA
            out.add_answer_at_time(DNSAddress(server, type_, _CLASS_IN_FLUSH, 0, ip.packed), 0)
        azc.zeroconf.async_send(out)

    def _is_self(self, name: str, txt: dict[str, str]) -> bool:
        if txt.get("id") and txt.get("id") == self.status.kiosk_id:
            return True
        return any(info.name == name for info in self._infos)

    def _conflict(self, message: str) -> None:
        _LOGGER.warning("mDNS name conflict: %s", message)
        self.status.conflicts.append(message)


__all__ = ["KIOSK_TYPE", "Announcer", "zeroconf_interfaces"]
