"""Announce the kiosk with mDNS/DNS-SD, each interface with its own addresses.

What goes out, once the socket is bound and the real port known:

* ``<name>._http._tcp.local.`` (so Bonjour browsers list the kiosk) and
  ``<name>._jupyter-kiosk._tcp.local.`` (for kiosks and tools) with TXT records
  ``id``, ``name``, ``version``, ``path``, ``api``, ``sync``;
* the host name ``<name>.local.`` answering A and AAAA.

One responder per interface. The :class:`Announcer` runs a
:class:`~kiosk.discovery.responder.LinkResponder` (one ``AsyncZeroconf``, its
sockets isolated to that interface) for every announced interface, so each link
hears only the addresses the kiosk has on it (RFC 6762 §15): a phone on the
hotspot gets the hotspot address, a laptop on the school LAN the LAN address. All
links carry the same name.

Name conflicts at start. Before claiming ``<name>.local`` the announcer asks every
link who answers for it (another kiosk, or avahi-daemon on this very machine, which
owns the machine's host name); if anyone does it tries ``<name>-2.local``,
``<name>-3.local`` and so on, and the services take the same label.
python-zeroconf's own probing (``allow_name_change=True``) still renames a service
instance that is taken while the host name is free.

Name conflicts later. Two kiosks can end up with one name after starting apart (a
Wi-Fi that came up late, two classrooms' networks joined). The announcer asks again
who answers for its name every ``check_interval`` seconds, after every network
change, and at once when it overhears another device answering for the name or the
browser finds a ``_jupyter-kiosk`` service with our name and another kiosk's id.
When someone else answers, :func:`~kiosk.discovery.conflicts.keeps_name` settles
which kiosk keeps the name (both reach the same verdict); the other says goodbye,
picks the next free ``<name>-N`` and announces again. A device that never gives way
(not a kiosk) makes us rename after a minute (at least three check intervals).
Every rename is logged as ``mDNS name conflict: …`` and kept in the status for the
teacher.

Changes. :meth:`Announcer.update` takes a new set of interfaces from the address
monitor: responders of interfaces that went away say goodbye and close, new
interfaces get one, and a responder whose addresses changed rebinds, sends goodbyes
for the addresses that went away and re-announces.

Shutdown sends goodbyes for every record on every link and waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Mapping

from kiosk.discovery.conflicts import keeps_name
from kiosk.discovery.interfaces import InterfaceAddresses
from kiosk.discovery.names import (
    HTTP_TYPE,
    KIOSK_TYPE,
    candidate_names,
    host_fqdn,
    instance_label,
    instance_of,
    numbered,
)
from kiosk.discovery.responder import LinkResponder, zeroconf_interfaces
from kiosk.discovery.status import DiscoveryStatus, PeerKiosk

_LOGGER = logging.getLogger(__name__)

Snapshot = tuple[InterfaceAddresses, ...]

# How long (s, at least three check intervals) a device that should have renamed may
# go on answering for our name before we give way ourselves. Long enough for a kiosk
# that lost the tie-break to notice by its own periodic check: two kiosks giving way
# at once would both try the name again.
_GIVE_WAY_AFTER = 60.0
# How long (s) an address we no longer have still counts as ours: an echo of our
# own earlier announcement must not pass for another device claiming the name.
_FORMER_S = 60.0
# Least time between two conflict checks (answers to one check must not set off
# a storm of further checks).
_MIN_CHECK_GAP = 4.0
# Conflict sentences kept for the dashboard (the newest).
_KEEP_CONFLICTS = 20


class Announcer:
    """Owns one :class:`LinkResponder` per interface; all methods run on the loop."""

    def __init__(self, status: DiscoveryStatus, txt: Mapping[str, str | None], *,
                 probe_timeout: float = 1.5, check_interval: float = 30.0) -> None:
        self.status = status
        self._txt: dict[str, dict[str, str | None]] = {HTTP_TYPE: {"path": "/"},
                                                       KIOSK_TYPE: dict(txt)}
        self._probe = probe_timeout
        self._interval = check_interval
        self._links: dict[str, LinkResponder] = {}
        self._label: str | None = None
        self._port: int | None = None
        self._contested_since: float | None = None  # _clock(), first check that saw it
        self._clock = time.monotonic  # replaced in tests
        self._former: dict[str, float] = {}  # address → when it stopped being ours
        self._lock = asyncio.Lock()
        self._recheck = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
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
        """Announce, or follow an interface or address change."""
        async with self._lock:
            if self._port is None:
                raise RuntimeError("Announcer.update before start")
            try:
                await self._apply(snapshot)
                self.status.error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.status.error = f"mDNS announcement failed: {exc}"
                _LOGGER.exception("mDNS announcement failed")
        # A network change may have joined us to a network where our name is taken.
        self._recheck.set()

    async def check_now(self) -> None:
        """Ask every link at once who answers for our name, and settle a clash."""
        async with self._lock:
            await self._check_conflicts()

    async def stop(self) -> None:
        """Send goodbyes for every record on every link, wait for them, close."""
        for task in (self._task, self._watch):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._task, self._watch):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._watch = None
        async with self._lock:
            if not self._links:
                return
            links, self._links = list(self._links.values()), {}
            await asyncio.gather(*(link.close() for link in links))
            self._merge_peers()
            self.status.announced = False
            _LOGGER.info("mDNS: goodbye sent, stopped announcing")

    # -- announcing -------------------------------------------------------------

    async def _apply(self, snapshot: Snapshot) -> None:
        wanted = {i.name: i for i in snapshot if i.addresses}
        stamp = time.monotonic()
        now_ours = {a for i in wanted.values() for a in i.addresses}
        for address in self._current_addresses() - now_ours:
            self._former[address] = stamp
        for name in [n for n in self._links if n not in wanted]:
            link = self._links.pop(name)
            _LOGGER.info("mDNS: %s has no address any more; stopped announcing there", name)
            await link.close()
            self._merge_peers()
        if not wanted:
            if self._label is None:
                _LOGGER.info("mDNS: waiting for a network address to announce on")
            else:
                _LOGGER.warning("mDNS: no network address left; the announcement "
                                "resumes when one comes back")
            self.status.announced = False
            return
        if self._label is None:
            await self._first_announce(list(wanted.values()))
            return
        changed = []
        for name, iface in wanted.items():
            current = self._links.get(name)
            if current is not None and current.iface.index != iface.index:
                # Unplugged and plugged back (a USB gadget): a new device under the
                # old name. Its sockets were bound to the old one: start afresh.
                await self._links.pop(name).close()
                current = None
            if current is None:
                link = await self._open_link(iface)
                await link.register(self._label, self._need_port(), self._txt)
                changed.append(name)
            elif await current.update(iface):
                changed.append(name)
        if changed:
            self.status.announced = True
            self.status.announce_count += 1
            self.status.last_change = time.time()
            _LOGGER.info("mDNS: re-announced %s on %s", self.status.host_name,
                         self._describe_links())

    async def _first_announce(self, ifaces: list[InterfaceAddresses]) -> None:
        try:
            for iface in ifaces:
                await self._open_link(iface)
            # A random pause first (RFC 6762 §8.1) so kiosks powered on together do
            # not probe in lockstep.
            await asyncio.sleep(random.uniform(0, 0.25))  # noqa: S311
            label = await self._choose_label()
            await self._register_all(label)
        except BaseException:
            # Leave nothing half-started: the next network change retries from scratch.
            links, self._links = list(self._links.values()), {}
            self._label = None
            await asyncio.gather(*(link.close() for link in links), return_exceptions=True)
            raise
        if self._watch is None:
            self._watch = asyncio.create_task(self._watch_conflicts(),
                                              name="kiosk-discovery-conflicts")

    async def _open_link(self, iface: InterfaceAddresses) -> LinkResponder:
        link = LinkResponder(iface, self._own_addresses, self._recheck.set)
        await link.start()
        self._links[iface.name] = link
        link.start_browser(self._is_self, self._merge_peers)
        return link

    async def _register_all(self, label: str) -> None:
        port = self._need_port()
        links = list(self._links.values())
        registered = await asyncio.gather(*(link.register(label, port, self._txt)
                                            for link in links))
        self._label = label
        names: dict[str, str] = {}
        for link, infos in zip(links, registered, strict=True):
            for info in infos:
                wanted = instance_label(label)
                got = instance_of(info.name, info.type)
                names.setdefault(info.type, got)
                if got != wanted:
                    self._conflict(f"the service name '{wanted}' ({info.type}) is taken on "
                                   f"{link.name}; announced there as '{got}'")
        self.status.host_name = host_fqdn(label).rstrip(".")
        self.status.service_names = names
        self.status.announced = True
        self.status.announce_count += 1
        self.status.last_change = time.time()
        self.announced.set()
        _LOGGER.info("mDNS: announced as %s (services %s) on %s", self.status.host_name,
                     ", ".join(f"'{n}' {t}" for t, n in names.items()), self._describe_links())

    async def _choose_label(self, given_up: str | None = None) -> str:
        """The first free name of ``<name>``, ``<name>-2``, ...; never ``given_up``, the
        label we have just lost a conflict for. (Asking again whether it is free could
        wrongly say yes: a responder that multicast its answer less than a second ago
        stays silent, RFC 6762 §6.)"""
        requested = self.status.requested_name
        for label in candidate_names(requested):
            if label == given_up:
                continue
            owner = await self._answering(host_fqdn(label))
            if not owner:
                return label
            self._conflict(f"{label}.local is already answered by "
                           f"{', '.join(owner)}; trying another name")
        fallback = numbered(requested, random.randint(100, 999))  # noqa: S311
        self._conflict(f"every name tried was taken; using {fallback}.local")
        return fallback

    async def _answering(self, host: str, *, stop_at_first: bool = True) -> list[str]:
        """The addresses that answer for ``host`` on any link within the probe time
        (by default only until the first answer: one is enough to call it taken)."""
        found = await asyncio.gather(*(link.claimants(host, self._probe,
                                                      stop_at_first=stop_at_first)
                                       for link in self._links.values()))
        return sorted({a for addresses in found for a in addresses})

    # -- conflicts after start ----------------------------------------------------

    async def _watch_conflicts(self) -> None:
        """Check the name every ``check_interval`` s, and when something hints at a
        clash (a network change, an overheard foreign answer, a same-name kiosk)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recheck.wait(), self._interval)
            self._recheck.clear()
            # Spread the queries of kiosks that noticed the same event.
            await asyncio.sleep(random.uniform(0.1, 0.6))  # noqa: S311
            try:
                await self.check_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("mDNS: the name-conflict check failed")
            await asyncio.sleep(_MIN_CHECK_GAP)

    async def _check_conflicts(self) -> None:
        label = self._label
        if label is None or not self._links:
            return
        unregistered = [link for link in self._links.values() if not link.infos]
        if unregistered:
            # A rename that failed half-way (a socket error, say) left links silent:
            # announce the name again before checking it.
            _LOGGER.info("mDNS: announcing %s again on %s", host_fqdn(label).rstrip("."),
                         ", ".join(link.name for link in unregistered))
            await asyncio.gather(*(link.register(label, self._need_port(), self._txt)
                                   for link in unregistered))
            self.status.announced = True
        host = host_fqdn(label)
        own = self._own_addresses()
        links = list(self._links.values())
        # Only answers to this check count: an answer overheard earlier may come from
        # a device that has renamed since (its goodbye may never reach our cache).
        answers = await asyncio.gather(*(link.claimants(host, self._probe) for link in links))
        clashes = [(link, sorted(a for a in found if a not in own))
                   for link, found in zip(links, answers, strict=True)]
        clashes = [(link, theirs) for link, theirs in clashes if theirs]
        if not clashes:
            self._contested_since = None
            return
        link, theirs = clashes[0]
        where = f"{host.rstrip('.')} is also answered by {', '.join(theirs)} on {link.name}"
        now = self._clock()
        patience = max(3 * self._interval, _GIVE_WAY_AFTER)
        if keeps_name(link.addresses, theirs):
            if self._contested_since is None:
                self._contested_since = now
                self._conflict(f"{where}; keeping the name (RFC 6762 tie-break), the other "
                               "device should rename")
            if now - self._contested_since < patience:
                return
            where += f" for {now - self._contested_since:.0f} s (it does not rename)"
        await self._rename(where)

    async def _rename(self, reason: str) -> None:
        old, old_label = self.status.host_name, self._label
        await asyncio.gather(*(link.unregister() for link in self._links.values()))
        self.status.announced = False
        self._contested_since = None
        label = await self._choose_label(given_up=old_label)
        await self._register_all(label)
        self._conflict(f"{reason}; renamed from {old} to {self.status.host_name}")

    # -- helpers ----------------------------------------------------------------

    def _need_port(self) -> int:
        if self._port is None:
            raise RuntimeError("Announcer used before start")
        return self._port

    def _current_addresses(self) -> set[str]:
        return {a for link in self._links.values() for a in link.addresses}

    def _own_addresses(self) -> set[str]:
        """Our addresses, with those we had until a minute ago."""
        horizon = time.monotonic() - _FORMER_S
        self._former = {a: t for a, t in self._former.items() if t >= horizon}
        return self._current_addresses() | set(self._former)

    def _describe_links(self) -> str:
        return "; ".join(f"{link.name} {', '.join(link.addresses)}"
                         for link in self._links.values())

    def _is_self(self, name: str, txt: dict[str, str]) -> bool:
        kiosk_id = txt.get("id")
        if kiosk_id and kiosk_id == self.status.kiosk_id:
            return True
        ours = any(info.name == name for link in self._links.values() for info in link.infos)
        if ours and kiosk_id:
            # Another kiosk announces a service under our very name: check the name.
            self._recheck.set()
        return ours

    def _merge_peers(self) -> None:
        """Rebuild ``status.peers`` from every link's browser (a kiosk seen on two
        links is one peer with the addresses of both)."""
        merged: dict[str, PeerKiosk] = {}
        for link in self._links.values():
            for name, peer in link.peers.items():
                known = merged.get(name)
                if known is None:
                    merged[name] = dataclasses.replace(peer, addresses=list(peer.addresses))
                    continue
                known.addresses.extend(a for a in peer.addresses if a not in known.addresses)
                known.last_seen = max(known.last_seen, peer.last_seen)
        self.status.peers.clear()
        self.status.peers.update(merged)

    def _conflict(self, message: str) -> None:
        _LOGGER.warning("mDNS name conflict: %s", message)
        self.status.conflicts.append(message)
        del self.status.conflicts[:-_KEEP_CONFLICTS]


__all__ = ["KIOSK_TYPE", "Announcer", "zeroconf_interfaces"]
