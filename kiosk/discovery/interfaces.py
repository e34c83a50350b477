"""Which network interfaces the kiosk announces itself on, and with which addresses.

Pure functions over what ``psutil.net_if_addrs()`` and ``psutil.net_if_stats()``
return, so the choice is unit-tested without a network. :func:`scan` is the one
blocking call (it asks the kernel); async code runs it in a thread.

Default choice (``interfaces`` setting empty): every interface that is up, has an
address, and whose name looks like real hardware on a Raspberry Pi or a laptop:
``eth*``, ``en*`` (``enp3s0``, ``end0``), ``wlan*``, ``wl*`` (``wlp2s0``), ``usb*``
(USB gadget/tethering) and ``uap*`` (a second Wi-Fi access-point interface).
Loopback, container and virtual bridges (``docker*``, ``br-*``, ``veth*``,
``virbr*``, VPNs, ...) are left out, because an address there is not one students
can reach. Setting ``interfaces`` (names or shell patterns such as ``veth*``)
replaces that filter entirely: exactly the named interfaces are used, even
virtual ones, which is how the network-namespace tests announce on a veth pair.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Protocol

DEFAULT_PREFIXES = ("eth", "en", "wlan", "wl", "usb", "uap")


class _Addr(Protocol):
    @property
    def family(self) -> Any: ...
    @property
    def address(self) -> str: ...


class _Stats(Protocol):
    @property
    def isup(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class InterfaceAddresses:
    """One chosen interface and its usable addresses (IPv6 without the ``%scope``)."""

    name: str
    index: int | None = None
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()
    ipv6_link_local: tuple[str, ...] = field(default=())

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address to announce in A/AAAA records, IPv4 first."""
        return self.ipv4 + self.ipv6 + self.ipv6_link_local


def is_default_interface(name: str) -> bool:
    """Whether an interface is announced when the ``interfaces`` setting is empty."""
    return name.startswith(DEFAULT_PREFIXES)


def matches(name: str, configured: Sequence[str]) -> bool:
    """Whether ``name`` is one of the configured names or patterns (``veth*``)."""
    return any(fnmatchcase(name, pattern) for pattern in configured)


def _clean_v6(address: str) -> str:
    return address.split("%", 1)[0]


def choose(
    addrs: Mapping[str, Iterable[_Addr]],
    stats: Mapping[str, _Stats],
    configured: Sequence[str] = (),
    indexes: Mapping[str, int] | None = None,
) -> tuple[InterfaceAddresses, ...]:
    """The interfaces to announce on, in configured order (else the kernel's order).

    An interface must be up and have at least one IPv4 or IPv6 address. Loopback
    addresses are never used, even on an interface named explicitly.
    """
    names = list(addrs)
    if configured:
        ordered: list[str] = []
        for pattern in configured:
            ordered.extend(n for n in names if fnmatchcase(n, pattern) and n not in ordered)
        names = ordered
    else:
        names = [n for n in names if is_default_interface(n)]
    chosen = []
    for name in names:
        stat = stats.get(name)
        if stat is None or not stat.isup:
            continue
        v4: list[str] = []
        v6: list[str] = []
        v6ll: list[str] = []
        for item in addrs[name]:
            if item.family == socket.AF_INET:
                ip4 = ipaddress.IPv4Address(item.address)
                if not ip4.is_loopback and not ip4.is_unspecified and item.address not in v4:
                    v4.append(item.address)
            elif item.family == socket.AF_INET6:
                text = _clean_v6(item.address)
                ip6 = ipaddress.IPv6Address(text)
                if ip6.is_loopback or ip6.is_unspecified or ip6.is_multicast:
                    continue
                target = v6ll if ip6.is_link_local else v6
                if text not in target:
                    target.append(text)
        if not (v4 or v6 or v6ll):
            continue
        index = (indexes or {}).get(name)
        chosen.append(InterfaceAddresses(name, index, tuple(v4), tuple(v6), tuple(v6ll)))
    return tuple(chosen)


def scan(configured: Sequence[str] = ()) -> tuple[InterfaceAddresses, ...]:
    """Ask the kernel for the interfaces to announce on (blocking: run in a thread)."""
    import psutil

    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    indexes: dict[str, int] = {}
    for name in addrs:
        try:
            indexes[name] = socket.if_nametoindex(name)
        except OSError:  # vanished between the two calls
            continue
    return choose(addrs, stats, configured, indexes)


def all_addresses(interfaces: Iterable[InterfaceAddresses]) -> list[str]:
    """The addresses of several interfaces: every IPv4 first, then IPv6."""
    items = list(interfaces)
    v4 = [a for i in items for a in i.ipv4]
    v6 = [a for i in items for a in i.ipv6 + i.ipv6_link_local]
    return v4 + v6
