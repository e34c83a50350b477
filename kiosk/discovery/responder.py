"""One network link's mDNS responder: an ``AsyncZeroconf`` bound to one interface.

RFC 6762 §15 wants a host on several links to answer each link with the addresses
it has *on that link*: a phone on the hotspot (``wlan0``) must not be handed the
school LAN address of ``eth0``, which it cannot reach. A python-zeroconf instance
answers every interface it uses with every address of its ``ServiceInfo``s, so the
kiosk runs one instance per announced interface, each:

* bound to that interface only (``interfaces=[its IPv4 addresses, its index]``) and
  registering the services and ``<name>.local`` with that interface's addresses only;
* **isolated** from the other links. python-zeroconf receives multicast on one
  wildcard socket (``0.0.0.0``/``::`` port 5353), and Linux hands such a socket
  the mDNS packets of every interface: for IPv4 because ``IP_MULTICAST_ALL`` is on
  by default, for IPv6 because group membership is matched by address only, not
  by interface. The ``eth0`` instance would then hear, cache and answer the
  queries and announcements of ``wlan0`` (the netns test saw exactly that: a
  service renamed ``-2`` because one link heard the other link's announcement).
  Binding every socket of the instance to its interface (``SO_BINDTODEVICE``,
  allowed without privileges since Linux 5.7 for a socket not yet bound to a
  device) and turning ``IP_MULTICAST_ALL`` off keep each instance to its own
  link. Where that fails (not Linux), each instance hears every link, as before.

The instance also carries a :class:`~kiosk.discovery.conflicts.ClaimWatcher` (who
answers for our name on this link) and, once started, a :class:`KioskBrowser`.
Everything here runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Mapping

# DNSAddress, DNSOutgoing and DNSQuestion are public names of the package (it
# re-exports them) that are missing from its __all__, hence the ignore.
from zeroconf import (  # type: ignore[attr-defined]
    DNSAddress,
    DNSOutgoing,
    DNSQuestion,
    IPVersion,
    Zeroconf,
    current_time_millis,
)
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from kiosk.discovery.browser import KioskBrowser
from kiosk.discovery.conflicts import TYPE_A, TYPE_AAAA, ClaimWatcher
from kiosk.discovery.interfaces import InterfaceAddresses
from kiosk.discovery.names import host_fqdn, service_fqdn, txt_properties
from kiosk.discovery.status import PeerKiosk

_LOGGER = logging.getLogger(__name__)

# DNS wire values (RFC 1035, RFC 6762 §10.2): a goodbye is an answer with TTL 0.
_FLAGS_QUERY = 0x0000
_FLAGS_RESPONSE_AUTHORITATIVE = 0x8000 | 0x0400
_CLASS_IN = 0x0001
_CLASS_IN_FLUSH = 0x0001 | 0x8000

# Linux socket options (in.h / in6.h); Python's socket module does not name them.
_IP_MULTICAST_ALL = 49
_IPV6_MULTICAST_ALL = 29

# python-zeroconf's `interfaces`: IPv4 addresses and IPv6 interface indexes.
InterfacesType = list[str | int]


def zeroconf_interfaces(
        snapshot: tuple[InterfaceAddresses, ...]) -> tuple[InterfacesType, IPVersion]:
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


def isolate_sockets(zc: Zeroconf, ifname: str) -> tuple[int, int]:
    """Keep ``zc``'s sockets to interface ``ifname``: they neither hear nor answer
    other interfaces' mDNS traffic.

    The sockets are found through ``zc.engine.readers``, python-zeroconf's list of
    receiving transports (public attributes, though not documented API; the
    two-link netns test fails if a new version moves them).

    Returns ``(isolated, total)`` socket counts (``isolated`` is 0 where the platform
    lacks the options). Safe to repeat: call it again after
    ``async_update_interfaces``, which adds sockets and may replace the listen
    socket. A socket already bound to the device is left alone, because without
    ``CAP_NET_RAW`` the kernel refuses to set the option a second time.
    """
    isolated = total = 0
    device = ifname.encode()
    for reader in zc.engine.readers:
        sock = reader.transport.get_extra_info("socket")
        if sock is None:
            continue
        total += 1
        try:
            bound = sock.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 32)
            if bound.rstrip(b"\0") != device:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device)
            sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
            if sock.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_MULTICAST_ALL, 0)
        except (OSError, AttributeError) as exc:
            _LOGGER.debug("mDNS socket not isolated to %s: %s", ifname, exc)
            continue
        isolated += 1
    return isolated, total


class LinkResponder:
    """The mDNS presence of the kiosk on one interface (see the module docstring)."""

    def __init__(self, iface: InterfaceAddresses, own: Callable[[], set[str]],
                 on_foreign: Callable[[], None]) -> None:
        self.iface = iface
        self.watcher = ClaimWatcher(own, on_foreign, services=self._service_names,
                                    on_clobbered=self._on_clobbered)
        self.infos: list[AsyncServiceInfo] = []
        self.peers: dict[str, PeerKiosk] = {}
        self._azc: AsyncZeroconf | None = None
        self._browser: KioskBrowser | None = None
        self._again: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.iface.name

    @property
    def addresses(self) -> list[str]:
        """This link's addresses, the only ones announced on it (IPv4 first)."""
        return list(self.iface.addresses)

    @property
    def zeroconf(self) -> Zeroconf:
        if self._azc is None:
            raise RuntimeError(f"mDNS responder on {self.name} is not started")
        return self._azc.zeroconf

    async def start(self) -> None:
        """Open the sockets on this interface and start listening."""
        zc_interfaces, ip_version = zeroconf_interfaces((self.iface,))
        # Created here, inside the running loop, so python-zeroconf uses this loop
        # rather than starting a thread of its own.
        self._azc = AsyncZeroconf(interfaces=zc_interfaces, ip_version=ip_version)
        try:
            await self._azc.zeroconf.async_wait_for_start()
            self._isolate()
            self._azc.zeroconf.async_add_listener(self.watcher, None)
        except BaseException:
            await self.close()
            raise

    def _isolate(self) -> None:
        isolated, total = isolate_sockets(self.zeroconf, self.name)
        if isolated < total:
            _LOGGER.warning("mDNS on %s: %d of %d sockets could not be kept to this "
                            "interface; other links may hear its addresses", self.name,
                            total - isolated, total)

    def start_browser(self, is_self: Callable[[str, dict[str, str]], bool],
                      on_change: Callable[[], None]) -> None:
        """Browse for other kiosks on this link into :attr:`peers`."""
        assert self._azc is not None
        if self._browser is None:
            self._browser = KioskBrowser(self._azc, self.peers, is_self, on_change)
            self._browser.start()

    async def register(self, label: str, port: int,
                       txt: Mapping[str, Mapping[str, str | None]]) -> list[AsyncServiceInfo]:
        """Probe and announce one service per type of ``txt`` under ``label``.

        python-zeroconf renames a service instance that is already taken on this
        link (``allow_name_change``); the infos returned carry the names used.
        """
        assert self._azc is not None
        azc = self._azc
        infos = [AsyncServiceInfo(type_, service_fqdn(label, type_), port=port,
                                  properties=txt_properties(props), server=host_fqdn(label),
                                  parsed_addresses=self.addresses)
                 for type_, props in txt.items()]
        self.watcher.set_current(host_fqdn(label))
        # Both services probe at once; each call returns once probing is done and hands
        # back the second stage, the announcements, awaited below.
        broadcasts = await asyncio.gather(
            *(azc.async_register_service(info, allow_name_change=True) for info in infos))
        self.infos = infos
        await asyncio.gather(*broadcasts)
        return infos

    async def unregister(self) -> None:
        """Goodbyes for this link's services and host name (awaited)."""
        infos, self.infos = self.infos, []
        self.watcher.set_current(None)
        if self._azc is None or not infos:
            return
        try:
            goodbyes = [await self._azc.async_unregister_service(info) for info in infos]
            await asyncio.gather(*goodbyes)
        except Exception:
            _LOGGER.warning("mDNS goodbyes on %s failed", self.name, exc_info=True)

    async def update(self, iface: InterfaceAddresses) -> bool:
        """Follow an address change on this interface: rebind, say goodbye for the
        addresses that went away, re-announce. Returns whether anything changed."""
        assert self._azc is not None
        if iface == self.iface:
            return False
        old = self.iface
        self.iface = iface
        removed = [a for a in old.addresses if a not in iface.addresses]
        # Update the registered records first: async_update_interfaces re-announces
        # them on any new socket, and they must carry the new addresses.
        for info in self.infos:
            info.addresses = self.addresses
        zc_interfaces, ip_version = zeroconf_interfaces((iface,))
        await self._azc.async_update_interfaces(zc_interfaces, ip_version)
        self._isolate()
        if removed and self.infos:
            self._send_address_goodbyes(self.infos[0].server or "", removed)
        updates = [await self._azc.async_update_service(info) for info in self.infos]
        await asyncio.gather(*updates)
        return True

    def _send_address_goodbyes(self, server: str, removed: list[str]) -> None:
        """TTL-0 A/AAAA records for addresses we no longer have, so caches drop them now
        rather than when their 120 s TTL runs out."""
        out = DNSOutgoing(_FLAGS_RESPONSE_AUTHORITATIVE)
        for address in removed:
            ip = ipaddress.ip_address(address)
            type_ = TYPE_A if ip.version == 4 else TYPE_AAAA
            out.add_answer_at_time(DNSAddress(server, type_, _CLASS_IN_FLUSH, 0, ip.packed), 0)
        self.zeroconf.async_send(out)

    async def claimants(self, host: str, wait: float, *,
                        stop_at_first: bool = False) -> list[str]:
        """Ask this link who answers for ``host`` and return every address that
        answered within ``wait`` seconds, ours included.

        The question (A and AAAA, multicast answers wanted) goes out three times,
        ``wait / 3`` apart, as probes do (RFC 6762 §8.1): one lost packet or one
        answer held back by a responder's once-a-second limit must not make a taken
        name look free. ``stop_at_first`` returns at the first answer.
        """
        zc = self.zeroconf
        self.watcher.watch(host)
        try:
            since = current_time_millis()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            for attempt in range(3):
                out = DNSOutgoing(_FLAGS_QUERY)
                out.add_question(DNSQuestion(host, TYPE_A, _CLASS_IN))
                out.add_question(DNSQuestion(host, TYPE_AAAA, _CLASS_IN))
                zc.async_send(out)
                until = deadline if attempt == 2 else loop.time() + wait / 3
                while loop.time() < until:
                    if stop_at_first and self.watcher.seen_since(host, since):
                        return self.watcher.seen_since(host, since)
                    await asyncio.sleep(0.05)
            return self.watcher.seen_since(host, since)
        finally:
            self.watcher.unwatch(host)

    def _service_names(self) -> set[str]:
        return {info.name.lower() for info in self.infos}

    def _on_clobbered(self) -> None:
        # Called by the watcher, on the loop: announce again once, shortly.
        if self._again is None or self._again.done():
            self._again = asyncio.create_task(self._announce_again(),
                                              name=f"kiosk-discovery-reannounce-{self.name}")

    async def _announce_again(self) -> None:
        """Another device's goodbye removed a record we share with it (a PTR) from
        the caches on this link: send our records again."""
        await asyncio.sleep(0.2)
        if self._azc is None or not self.infos:
            return
        try:
            updates = [await self._azc.async_update_service(info) for info in self.infos]
            await asyncio.gather(*updates)
        except Exception:  # unregistered meanwhile (a rename): nothing to restore
            _LOGGER.debug("re-announcement on %s skipped", self.name, exc_info=True)
            return
        _LOGGER.info("mDNS: another device's goodbye removed a record we share on %s; "
                     "announced again", self.name)

    async def close(self) -> None:
        """Stop browsing, send goodbyes, close the sockets."""
        again, self._again = self._again, None
        if again is not None and not again.done():
            again.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await again
        if self._browser is not None:
            await self._browser.stop()
            self._browser = None
        self.peers.clear()
        azc, self._azc = self._azc, None
        if azc is None:
            return
        infos, self.infos = self.infos, []
        with contextlib.suppress(Exception):
            azc.zeroconf.async_remove_listener(self.watcher)
        try:
            goodbyes = [await azc.async_unregister_service(info) for info in infos]
            await asyncio.gather(*goodbyes)
        except Exception:
            _LOGGER.warning("mDNS goodbyes on %s failed", self.name, exc_info=True)
        await azc.async_close()
