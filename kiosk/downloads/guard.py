"""Which addresses the download relay may reach: the public internet only, by default.

Students can ask the kiosk to fetch any URL; without this guard they could make it
reach the school's router, the kiosk's own admin pages or a cloud metadata service.
The check is applied to the addresses the name resolves to, at connection time
(a resolver wrapper), so a name that changes its answer (DNS rebinding) or a
redirect to a private address is caught too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult

from kiosk.errors import Forbidden

_BLOCKED_NETS = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4",
    "64:ff9b:1::/48",
)]


def is_public(address: str) -> bool:
    """True for globally routable unicast addresses."""
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified):
        return False
    return not any(ip in net for net in _BLOCKED_NETS)


class GuardedResolver(AbstractResolver):
    """Resolves like ``inner`` but drops every address the policy forbids."""

    def __init__(self, inner: AbstractResolver, *, allow_private: bool) -> None:
        self._inner = inner
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return results
        allowed = [r for r in results if is_public(r["host"])]
        if not allowed:
            # Reached only if the name changed its answer since check_host (rebinding).
            raise OSError(f"{host} now resolves to a local or private address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


async def check_host(host: str, *, allow_private: bool) -> None:
    """Refuse a host that is, or resolves only to, forbidden addresses.

    Resolution failures are left to the connection attempt (they mean "offline").
    """
    if allow_private:
        return
    literal = host.strip("[]")
    try:
        ipaddress.ip_address(literal)
        addresses = [literal]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return
        addresses = [str(info[4][0]) for info in infos]
    if addresses and not any(is_public(a) for a in addresses):
        raise Forbidden(f"{host} is a local or private address; the kiosk only downloads "
                        "from the internet")
