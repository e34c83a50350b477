"""Keep a list of the other kiosks on one link (``_jupyter-kiosk._tcp``).

One browser runs per announced interface (see :mod:`kiosk.discovery.responder`);
the announcer merges their lists into ``DiscoveryStatus.peers``, which feeds the
teacher's dashboard and ``/api/kiosk/status``. Our own announcement is left out
(``is_self``: by kiosk id, so a rename does not make us our own peer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from kiosk.discovery.names import KIOSK_TYPE, instance_of
from kiosk.discovery.status import PeerKiosk

_LOGGER = logging.getLogger(__name__)

_RESOLVE_TIMEOUT_MS = 3000


class KioskBrowser:
    """Browse for other kiosks; ``peers`` is updated in place, on the loop."""

    def __init__(self, azc: AsyncZeroconf, peers: dict[str, PeerKiosk],
                 is_self: Callable[[str, dict[str, str]], bool],
                 on_change: Callable[[], None] | None = None) -> None:
        self._azc = azc
        self._peers = peers
        self._is_self = is_self
        self._changed = on_change or (lambda: None)
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._browser is None:
            self._browser = AsyncServiceBrowser(self._azc.zeroconf, [KIOSK_TYPE],
                                                handlers=[self._on_change])

    async def stop(self) -> None:
        """Cancel the browser and every pending resolution, and wait for them."""
        browser, self._browser = self._browser, None
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if browser is not None:
            await browser.async_cancel()

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                   state_change: ServiceStateChange) -> None:
        # Called on the loop by python-zeroconf; resolving needs awaiting, so it runs
        # in a named task that stop() cancels.
        if state_change is ServiceStateChange.Removed:
            if self._peers.pop(name, None) is not None:
                _LOGGER.info("kiosk %s left", instance_of(name, KIOSK_TYPE))
                self._changed()
            return
        task = asyncio.create_task(self._resolve(service_type, name),
                                   name=f"kiosk-discovery-resolve-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._azc.zeroconf, _RESOLVE_TIMEOUT_MS):
            _LOGGER.debug("could not resolve %s", name)
            return
        txt = {k: (v or "") for k, v in info.decoded_properties.items()}
        if self._is_self(name, txt):
            return
        known = name in self._peers
        self._peers[name] = PeerKiosk(
            service=name, name=instance_of(name, service_type), host=info.server,
            addresses=info.parsed_addresses(), port=info.port, txt=txt,
            last_seen=time.time(),
        )
        self._changed()
        if not known:
            _LOGGER.info("found kiosk %s at %s", instance_of(name, service_type),
                         ", ".join(info.parsed_addresses()) or "?")
