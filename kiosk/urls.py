"""The kiosk's URLs as a viewer should see them: IP literals, never ``.local``.

Phones often cannot resolve ``.local`` names, so every QR code carries an IP-literal
URL. Two entry points:

* :func:`ip_urls` — the kiosk's URLs from its interface addresses and port (IPv4
  first, IPv6 in brackets, link-local IPv6 left out: it needs a zone a QR code
  cannot carry). Used by the start banner, ``kiosk qr`` and discovery.
* :func:`viewer_url` — "the URL for this viewer", for pages: the local address of
  the viewer's own connection (the interface they reached us through), the real
  port and the scheme. When that address is loopback (the projector's browser runs
  on the kiosk itself) or a link-local IPv6, it falls back to the kiosk's first LAN
  URL (``RuntimeInfo.urls``, kept fresh by discovery).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

from kiosk.keys import RUNTIME

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Where the sharing API lives on every kiosk (the Jupyter Everywhere API's base path).
API_PREFIX = "/api/v1"


def _parse(address: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def url_for(address: str, port: int, scheme: str = "http", path: str = "/") -> str:
    """``http://192.0.2.1:8000/``, ``http://[2001:db8::1]:8000/``; default ports omitted."""
    ip = _parse(address)
    literal = address if ip is None else (f"[{ip}]" if ip.version == 6 else str(ip))
    default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    return f"{scheme}://{literal}{'' if default else f':{port}'}{path}"


def usable_in_qr(address: str) -> bool:
    """An address a student's device can open: not loopback, unspecified, multicast or
    link-local IPv6."""
    ip = _parse(address)
    if ip is None or ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return False
    return not (ip.version == 6 and ip.is_link_local)


def ip_urls(addresses: Iterable[str], port: int, scheme: str = "http") -> list[str]:
    """The kiosk's IP-literal URLs: IPv4 (link-local 169.254/16 last), then IPv6."""
    seen: list[IPAddress] = []
    for address in addresses:
        ip = _parse(address)
        if ip is not None and usable_in_qr(address) and ip not in seen:
            seen.append(ip)

    def rank(ip: IPAddress) -> tuple[int, int]:
        return (ip.version, 1 if ip.is_link_local else 0)

    return [url_for(str(ip), port, scheme) for ip in sorted(seen, key=rank)]


def reachable_addresses(listen_host: str, interface_addresses: Iterable[str]) -> list[str]:
    """The addresses clients can use given the listen address: all the interfaces'
    when listening on every address (``0.0.0.0``/``::``), else just that one."""
    ip = _parse(listen_host)
    addresses = list(interface_addresses)
    if ip is None or ip.is_unspecified:
        if ip is not None and ip.version == 4:
            return [a for a in addresses if (p := _parse(a)) is not None and p.version == 4]
        return addresses
    return [str(ip)]


def viewer_url(request: web.Request) -> str:
    """The IP-literal URL (ending in ``/``) of the interface this viewer reached the
    kiosk through: what every QR code shown to this viewer must hold."""
    scheme = "https" if request.secure else "http"
    transport = request.transport
    sock = transport.get_extra_info("sockname") if transport is not None else None
    runtime = request.config_dict.get(RUNTIME)
    fallback = runtime.urls[0] if runtime is not None and runtime.urls else None
    if not sock or not isinstance(sock, tuple):
        return fallback or f"{scheme}://{request.host}/"
    address, port = str(sock[0]), int(sock[1])
    if usable_in_qr(address):
        return url_for(address, port, scheme)
    if fallback is not None:
        return fallback
    return url_for(address, port, scheme)
