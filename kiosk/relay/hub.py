"""The relay hub: routes the kernel's drive and stdin requests to a tab of its browser.

On plain HTTP there is no service worker, so the kernel's synchronous ``POST
/api/drive`` and ``POST /api/stdin/kernel`` reach the kiosk itself. Every bundle page
loads the kiosk's bridge script (``/_kiosk/bridge.js``), which keeps a WebSocket open
to the kiosk under a random per-browser id (the ``kiosk_browser`` cookie, which the
kernel worker's requests carry too). The hub forwards each request to a bridge of the
same browser; the bridge posts it on the page's ``BroadcastChannel('/sw-api.v1')``
exactly as the service worker would, and any tab of that browser reaches the page
that owns the request's ``browsingContextId``. The answer comes back the same way.

Nothing is stored: requests live in memory only while they wait.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.errors import Forbidden, GatewayTimeout, KioskError, TooManyRequests

_LOGGER = logging.getLogger(__name__)


class PageGone(KioskError):
    """No tab of the browser is connected (closed, reloading, or no bridge)."""

    status = 503
    code = "page_not_connected"


class PageLink(Protocol):
    """What the hub needs of a bridge's connection (an aiohttp WebSocketResponse fits)."""

    async def send_json(self, data: Any) -> None: ...


@dataclass(slots=True)
class _Bridge:
    link: PageLink
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)


@dataclass(slots=True)
class _Browser:
    bridges: list[_Bridge] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # The address its first bridge came from: a browser id is bound to one device, so a
    # leaked id cannot be used from another to attach a socket or to send requests.
    client: str | None = None
    waiting: int = 0
    #: one file call at a time per browsing context (see :meth:`RelayHub.forward`)
    turns: dict[str, _Turn] = field(default_factory=dict)


@dataclass(slots=True)
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


#: Requests of one browser waiting for their page at once, and of the whole kiosk.
WAITING_PER_BROWSER = 32
WAITING_TOTAL = 2048


class RelayHub:
    """Bridges by browser id, and the requests waiting for their answers."""

    def __init__(self, *, attach_wait: float = 5.0) -> None:
        self._browsers: dict[str, _Browser] = {}
        self._ids = itertools.count(1)
        self.attach_wait = attach_wait

    @property
    def connected(self) -> int:
        return sum(len(b.bridges) for b in self._browsers.values())

    def check_attach(self, browser_id: str, client: str) -> None:
        """Refuse a bridge for a browser whose tabs are connected from another device."""
        browser = self._browsers.get(browser_id)
        if browser is not None and browser.bridges and browser.client != client:
            raise Forbidden("this browser id is in use by another device")

    def attach(self, browser_id: str, link: PageLink, *, client: str = "") -> None:
        """Register a tab's bridge (its device: ``client``, see :meth:`check_attach`)."""
        self.check_attach(browser_id, client)
        browser = self._browsers.setdefault(browser_id, _Browser())
        browser.client = client
        browser.bridges.append(_Bridge(link))
        browser.arrived.set()

    def detach(self, browser_id: str, link: PageLink) -> None:
        """Forget a bridge; whatever waited on it fails at once."""
        browser = self._browsers.get(browser_id)
        if browser is None:
            return
        for bridge in [b for b in browser.bridges if b.link is link]:
            browser.bridges.remove(bridge)
            for future in bridge.pending.values():
                if not future.done():
                    future.set_exception(PageGone("the notebook tab was closed or reloaded"))
        if not browser.bridges and not browser.waiting:
            browser.arrived.clear()
            del self._browsers[browser_id]
        elif not browser.bridges:
            browser.arrived.clear()

    def resolve(self, browser_id: str, link: PageLink, message: dict[str, Any]) -> None:
        """A bridge answered relay request ``message['id']``."""
        browser = self._browsers.get(browser_id)
        bridge = next((b for b in browser.bridges if b.link is link), None) if browser else None
        if bridge is None:
            return
        try:
            future = bridge.pending.get(int(message["id"]))
        except (KeyError, TypeError, ValueError):
            _LOGGER.warning("relay: a bridge sent a message without a valid id")
            return
        if future is None or future.done():
            return
        if "error" in message:
            future.set_exception(KioskError(f"the page could not answer: {message['error']}"))
        else:
            future.set_result(message.get("response"))

    async def _bridge_for(self, browser: _Browser, client: str) -> _Bridge:
        if not browser.bridges:
            # The kernel can start before the tab's bridge has connected: wait a little.
            try:
                await asyncio.wait_for(browser.arrived.wait(), self.attach_wait)
            except TimeoutError:
                raise PageGone("no notebook tab of this browser is connected to the kiosk"
                               ) from None
        if browser.client != client or not browser.bridges:
            # Another device's id: answer as if no tab were there (reveals nothing).
            raise PageGone("no notebook tab of this browser is connected to the kiosk")
        return browser.bridges[-1]

    @property
    def waiting(self) -> int:
        return sum(b.waiting for b in self._browsers.values())

    async def forward(self, browser_id: str, pathname: str, body: dict[str, Any],
                      limit_s: float | None, *, client: str = "",
                      turn: str | None = None) -> Any:
        """Send one request to a bridge of the browser; wait for the answer (None: no limit).

        Only requests from the device the browser's bridges came from are relayed, and
        at most :data:`WAITING_PER_BROWSER` (:data:`WAITING_TOTAL` in all) wait at once.
        Requests with the same ``turn`` (a browsing context's file calls) reach the page
        one at a time: JupyterLite's page answers with the browsing context only, no
        request id, so two kernels of one tab waiting at once could get each other's
        answers (seen: Pyodide's import machinery got a file's stat for a listing and died).
        The wait for the turn counts in ``limit_s``.
        """
        browser = self._browsers.setdefault(browser_id, _Browser())
        if browser.waiting >= WAITING_PER_BROWSER or self.waiting >= WAITING_TOTAL:
            raise TooManyRequests("too many requests are waiting for the notebook page",
                                  retry_after=5)
        browser.waiting += 1
        try:
            if turn is None:
                return await self._forward(browser, pathname, body, limit_s, client)
            return await self._forward_in_turn(browser, turn, pathname, body, limit_s,
                                                  client=client)
        finally:
            browser.waiting -= 1
            if not browser.waiting and not browser.bridges:
                self._browsers.pop(browser_id, None)

    async def _forward_in_turn(self, browser: _Browser, turn: str, pathname: str,
                               body: dict[str, Any], limit_s: float | None, *,
                               client: str) -> Any:
        slot = browser.turns.setdefault(turn, _Turn())
        slot.users += 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            try:
                await asyncio.wait_for(slot.lock.acquire(), limit_s)
            except TimeoutError:
                raise GatewayTimeout(f"the notebook page did not answer within "
                                     f"{limit_s or 0:.0f} s") from None
            try:
                left = None if limit_s is None else max(0.1, limit_s - (loop.time() - started))
                return await self._forward(browser, pathname, body, left, client)
            finally:
                slot.lock.release()
        finally:
            slot.users -= 1
            if not slot.users:
                browser.turns.pop(turn, None)

    async def _forward(self, browser: _Browser, pathname: str, body: dict[str, Any],
                       limit_s: float | None, client: str) -> Any:
        bridge = await self._bridge_for(browser, client)
        relay_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        bridge.pending[relay_id] = future
        try:
            await bridge.link.send_json({"id": relay_id, "pathname": pathname, "body": body})
            return await asyncio.wait_for(future, limit_s)
        except TimeoutError:
            raise GatewayTimeout(f"the notebook page did not answer within {limit_s or 0:.0f} s"
                                 ) from None
        except ConnectionError:
            raise PageGone("the notebook tab's connection dropped") from None
        finally:
            bridge.pending.pop(relay_id, None)
