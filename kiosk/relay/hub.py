"""The relay hub: routes the kernel's drive and stdin requests to the page that owns them.

On plain HTTP there is no service worker, so the kernel's synchronous ``POST
/api/drive`` and ``POST /api/stdin/kernel`` reach the kiosk itself. Each notebook
page keeps a WebSocket open to the kiosk under its ``browsingContextId`` (a random
UUID the page generated; the kernel worker sends the same id in every request). The
hub forwards each request to that page, which answers it exactly as it would have
answered the service worker, and hands the answer back to the waiting HTTP request.

Nothing is stored: requests live in memory only while they wait.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.errors import Conflict, GatewayTimeout, KioskError

_LOGGER = logging.getLogger(__name__)


class PageGone(KioskError):
    """The page that owns the request is not connected (closed tab, reload)."""

    status = 503
    code = "page_not_connected"


class PageLink(Protocol):
    """What the hub needs of a page's connection (an aiohttp WebSocketResponse fits)."""

    async def send_json(self, data: Any) -> None: ...


@dataclass(slots=True)
class _Page:
    link: PageLink
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)


class RelayHub:
    """Pages by browsing context id, and the requests waiting for their answers."""

    def __init__(self) -> None:
        self._pages: dict[str, _Page] = {}
        self._ids = itertools.count(1)

    @property
    def connected(self) -> int:
        return len(self._pages)

    def attach(self, context_id: str, link: PageLink) -> None:
        """Register a page; a second page claiming a live id is refused."""
        if context_id in self._pages:
            raise Conflict("this browsing context is already connected")
        self._pages[context_id] = _Page(link)

    def detach(self, context_id: str, link: PageLink) -> None:
        """Forget a page; whatever waited on it fails at once."""
        page = self._pages.get(context_id)
        if page is None or page.link is not link:
            return
        del self._pages[context_id]
        for future in page.pending.values():
            if not future.done():
                future.set_exception(PageGone("the notebook page was closed or reloaded"))

    def resolve(self, context_id: str, link: PageLink, message: dict[str, Any]) -> None:
        """A page answered relay request ``message['id']``."""
        page = self._pages.get(context_id)
        if page is None or page.link is not link:
            return
        try:
            future = page.pending.get(int(message["id"]))
        except (KeyError, TypeError, ValueError):
            _LOGGER.warning("relay: page sent a message without a valid id")
            return
        if future is None or future.done():
            return
        if "error" in message:
            future.set_exception(KioskError(f"the page could not answer: {message['error']}"))
        else:
            future.set_result(message.get("response"))

    async def forward(self, context_id: str, pathname: str, body: dict[str, Any],
                      limit_s: float | None) -> Any:
        """Send one request to its page and wait for the answer (``None``: no limit)."""
        page = self._pages.get(context_id)
        if page is None:
            raise PageGone("no notebook page with this browsing context is connected")
        relay_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        page.pending[relay_id] = future
        try:
            await page.link.send_json({"id": relay_id, "pathname": pathname, "body": body})
            return await asyncio.wait_for(future, limit_s)
        except TimeoutError:
            raise GatewayTimeout(f"the notebook page did not answer within {limit_s or 0:.0f} s"
                                 ) from None
        except ConnectionError:
            raise PageGone("the notebook page's connection dropped") from None
        finally:
            page.pending.pop(relay_id, None)
