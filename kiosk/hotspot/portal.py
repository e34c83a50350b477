"""Captive-portal answers on the hotspot: the sign-in sheet once, then "connected".

When a phone joins the kiosk's Wi-Fi it asks a probe URL (:mod:`kiosk.hotspot.probes`),
which the kiosk's DNS points at the kiosk. This module answers it:

1. the first time, with a redirect to ``/hotspot/welcome``: the phone sees a
   captive portal and opens its sign-in sheet on the kiosk's welcome page (its URL,
   its QR code, "open this in your browser");
2. once the student taps "Done" there, or opens any of the kiosk's own pages, or
   :attr:`ClientBook.grace` seconds after the first redirect (a phone whose owner
   ignored the notification must not stay "captive" for ever), with each
   platform's "you are online" answer, so the phone keeps the Wi-Fi.

Which client has signed in is kept in memory only, by client address, and expires
(:attr:`ClientBook.ttl`); nothing is written anywhere or logged with the address.

Everything here is active only for requests that arrived on the hotspot address
(``hotspot_address``, the local end of the connection). Clients of an ordinary school
network reach the kiosk on another address and get exactly what they got before:
probe URLs fall through to the bundle's 404, ``/hotspot/*`` is 404 too.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from kiosk.errors import NotFound
from kiosk.hotspot.dnsmasq import local_names
from kiosk.hotspot.probes import online_answer
from kiosk.i18n import N_
from kiosk.keys import CONFIG
from kiosk.qr import qr_svg
from kiosk.templating import Markup, html_response
from kiosk.urls import url_for

WELCOME_PATH = "/hotspot/welcome"
ACCEPT_PATH = "/hotspot/accept"
_NO_STORE = {"Cache-Control": "no-store"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class _Client:
    first_redirect: float | None = None
    online_until: float | None = None


class ClientBook:
    """Which hotspot clients have passed the sign-in sheet, by address, in memory.

    ``clock`` is injectable for tests. At most ``max_clients`` entries are kept; the
    oldest are forgotten first (they then see the sheet once more, nothing worse).
    """

    def __init__(self, *, ttl: float = 12 * 3600, grace: float = 300,
                 max_clients: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.grace = grace
        self.max_clients = max_clients
        self._clock = clock
        self._clients: dict[str, _Client] = {}

    def is_online(self, address: str) -> bool:
        """Should this client hear "you are online"? (Starts its grace period if not.)"""
        now = self._clock()
        self._prune(now)
        client = self._clients.get(address)
        if client is None:
            client = self._clients[address] = _Client()
            self._trim()
        if client.online_until is not None and client.online_until > now:
            return True
        if client.first_redirect is None:
            client.first_redirect = now
            return False
        if now - client.first_redirect >= self.grace:
            client.online_until = now + self.ttl
            return True
        return False

    def accept(self, address: str) -> None:
        """The client has seen the kiosk: from now on, tell it "online"."""
        now = self._clock()
        client = self._clients.setdefault(address, _Client(first_redirect=now))
        client.online_until = now + self.ttl
        self._trim()

    def signed_in(self) -> int:
        """How many clients currently hear "online"."""
        now = self._clock()
        return sum(1 for c in self._clients.values()
                   if c.online_until is not None and c.online_until > now)

    def __len__(self) -> int:
        return len(self._clients)

    def _prune(self, now: float) -> None:
        stale = [a for a, c in self._clients.items()
                 if c.online_until is not None and c.online_until <= now]
        for address in stale:
            del self._clients[address]

    def _trim(self) -> None:
        while len(self._clients) > self.max_clients:
            del self._clients[next(iter(self._clients))]


def _plain(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def local_endpoint(request: web.Request) -> tuple[str, int] | None:
    """The kiosk's own address and port of this connection (IPv4-mapped unwrapped)."""
    transport = request.transport
    sock = transport.get_extra_info("sockname") if transport is not None else None
    if not sock or not isinstance(sock, tuple):
        return None
    return _plain(str(sock[0])), int(sock[1])


def on_hotspot(request: web.Request, hotspot_address: str) -> bool:
    """Did this request reach the kiosk through its hotspot address?"""
    local = local_endpoint(request)
    return local is not None and local[0] == hotspot_address


def _client_address(request: web.Request) -> str:
    return _plain(request.remote or "")


def welcome_url(request: web.Request, hotspot_address: str) -> str:
    """``http://10.42.0.1/hotspot/welcome`` with the port this client used."""
    local = local_endpoint(request)
    port = local[1] if local is not None else 80
    scheme = "https" if request.secure else "http"
    return url_for(hotspot_address, port, scheme, WELCOME_PATH)


def make_portal_middleware(hotspot_address: str, book: ClientBook) -> Middleware:
    """The middleware answering probe hosts, only on ``hotspot_address``."""

    @web.middleware
    async def portal_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not on_hotspot(request, hotspot_address):
            return await handler(request)
        host = request.url.host or ""
        answer = online_answer(host, request.path)
        client = _client_address(request)
        if answer is None:
            # One of the kiosk's own pages: the student found it, the sheet has done
            # its job. (/hotspot/* itself does not count: that is the sheet.)
            if not request.path.startswith("/hotspot/"):
                book.accept(client)
            return await handler(request)
        if book.is_online(client):
            return web.Response(status=answer.status, text=answer.body or None,
                                content_type=answer.content_type if answer.body else None,
                                headers=_NO_STORE)
        target = welcome_url(request, hotspot_address)
        return web.Response(status=302, headers={**_NO_STORE, "Location": target},
                            text=str(Markup('<a href="{}">Sign in</a>').format(target)),
                            content_type="text/html")

    return portal_middleware


def render_welcome(request: web.Request, *, name: str, alias: str, ip_url: str,
                   done: bool) -> web.Response:
    """The sign-in sheet's page (``portal.html``): addresses, a QR code, what to do next."""
    return html_response(
        request, "portal.html", headers=_NO_STORE, name=name,
        names=local_names(name, alias), ip_url=ip_url, done=done, accept_path=ACCEPT_PATH,
        qr=Markup(qr_svg(ip_url, title=f"QR code for {ip_url}")))


def _ip_url(request: web.Request, hotspot_address: str) -> str:
    local = local_endpoint(request)
    port = local[1] if local is not None else 80
    return url_for(hotspot_address, port, "https" if request.secure else "http")


async def welcome(request: web.Request) -> web.Response:
    """GET /hotspot/welcome: the page the sign-in sheet shows (hotspot only)."""
    config = request.app[CONFIG]
    if not on_hotspot(request, config.hotspot_address):
        raise NotFound(N_("There is no page here."))
    return render_welcome(request, name=config.name, alias=config.hotspot_alias,
                          ip_url=_ip_url(request, config.hotspot_address),
                          done=request.query.get("done") == "1")


def make_accept(book: ClientBook) -> Handler:
    """POST /hotspot/accept: this client has seen the kiosk; answer "online" from now on."""

    async def accept(request: web.Request) -> web.StreamResponse:
        config = request.app[CONFIG]
        if not on_hotspot(request, config.hotspot_address):
            raise NotFound(N_("There is no page here."))
        book.accept(_client_address(request))
        raise web.HTTPSeeOther(f"{WELCOME_PATH}?done=1", headers=_NO_STORE)

    return accept
