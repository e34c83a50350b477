"""Watch the interfaces' addresses and report stable changes.

python-zeroconf does not notice a DHCP renewal, a hotspot coming up or a cable being
plugged in; this polls ``psutil`` every ``interval`` seconds (in a thread: it asks
the kernel) and reports a new set of interfaces only once it has been seen on two
polls in a row, so a flapping link does not cause a burst of re-announcements. With
the default 2 s interval a change is reported 2-4 s after it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from kiosk.discovery import interfaces as ifaces
from kiosk.discovery.interfaces import InterfaceAddresses

_LOGGER = logging.getLogger(__name__)

Snapshot = tuple[InterfaceAddresses, ...]
Scanner = Callable[[], Snapshot]
Subscriber = Callable[[Snapshot], Awaitable[None]]


class Damper:
    """Accepts a new value only after it was observed ``polls`` times in a row (pure)."""

    def __init__(self, current: Snapshot, polls: int = 2) -> None:
        self.current = current
        self._polls = polls
        self._candidate: Snapshot | None = None
        self._seen = 0

    def observe(self, value: Snapshot) -> bool:
        """Record one poll; True when ``value`` has just become the current value."""
        if value == self.current:
            self._candidate, self._seen = None, 0
            return False
        if value != self._candidate:
            self._candidate, self._seen = value, 0
        self._seen += 1
        if self._seen >= self._polls:
            self.current, self._candidate, self._seen = value, None, 0
            return True
        return False


class AddressMonitor:
    """One named background task polling the interfaces; subscribers get stable changes."""

    def __init__(self, configured: Sequence[str] = (), *, interval: float = 2.0,
                 polls: int = 2, scanner: Scanner | None = None) -> None:
        self._configured = tuple(configured)
        self._interval = interval
        self._polls = polls
        self._scanner: Scanner = scanner or (lambda: ifaces.scan(self._configured))
        self._subscribers: list[Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._damper: Damper | None = None

    @property
    def current(self) -> Snapshot:
        """The last stable set of interfaces (empty before :meth:`start`)."""
        return self._damper.current if self._damper else ()

    def subscribe(self, callback: Subscriber) -> None:
        self._subscribers.append(callback)

    async def scan(self) -> Snapshot:
        return await asyncio.to_thread(self._scanner)

    async def start(self) -> Snapshot:
        """Take the first snapshot (reported as is, no damping) and start polling."""
        if self._task is not None:
            return self.current
        self._damper = Damper(await self.scan(), self._polls)
        self._task = asyncio.create_task(self._run(), name="kiosk-discovery-address-monitor")
        return self._damper.current

    async def stop(self) -> None:
        """Cancel the polling task and wait for it to end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        assert self._damper is not None
        while True:
            await asyncio.sleep(self._interval)
            try:
                snapshot = await self.scan()
            except Exception:  # psutil can fail transiently while links change
                _LOGGER.warning("could not read the network interfaces", exc_info=True)
                continue
            if not self._damper.observe(snapshot):
                continue
            _LOGGER.info("network changed: %s", describe(snapshot))
            for callback in list(self._subscribers):
                try:
                    await callback(snapshot)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("a network-change subscriber failed")


def describe(snapshot: Snapshot) -> str:
    """``eth0 192.0.2.1, wlan0 198.51.100.7`` (or ``no address``) for logs."""
    parts = [f"{i.name} {' '.join(i.ipv4 + i.ipv6) or 'link-local only'}" for i in snapshot]
    return ", ".join(parts) or "no address"
