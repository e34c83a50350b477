"""How many devices hold a DHCP lease on the hotspot, and whether the radio can take more.

NetworkManager's dnsmasq keeps its leases in ``/var/lib/NetworkManager/dnsmasq-<iface>.leases``,
one line per device: ``<expiry epoch> <MAC> <IPv4> <hostname|*> <client-id|*>``
(expiry 0: never). Field notes §4: the Pi's built-in radio serves 4-10 clients well
on stock firmware; beyond that a class needs an external access point. The kiosk
reports a count and a level, never the addresses or names (they identify students'
devices).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The Pi's built-in radio: comfortable up to this many clients (field notes §4).
RADIO_LIMIT = 10
# From this many on, the dashboard warns that the limit is near.
RADIO_WARN_AT = 8


@dataclass(frozen=True, slots=True)
class Lease:
    """One line of a dnsmasq lease file."""

    expires: int  # epoch seconds; 0 = never
    mac: str
    address: str
    hostname: str | None


def parse_leases(text: str) -> list[Lease]:
    """Every well-formed lease line of a dnsmasq lease file (IPv6 ``duid`` lines and
    malformed lines are skipped)."""
    leases = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] == "duid":
            continue
        try:
            expires = int(parts[0])
            address = str(ipaddress.IPv4Address(parts[2]))
        except ValueError:
            continue
        leases.append(Lease(expires, parts[1].lower(), address,
                            None if parts[3] == "*" else parts[3]))
    return leases


def active_leases(leases: Iterable[Lease], now: float) -> list[Lease]:
    """Leases not yet expired at ``now``, one per device (MAC)."""
    seen: dict[str, Lease] = {}
    for lease in leases:
        if lease.expires == 0 or lease.expires > now:
            seen[lease.mac] = lease
    return list(seen.values())


def read_active_count(path: Path, now: float) -> int | None:
    """How many devices hold a lease in ``path`` (None: no such file). Blocking I/O."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    return len(active_leases(parse_leases(text), now))


@dataclass(frozen=True, slots=True)
class ClientLoad:
    """The number of clients and what it means for the Pi's radio."""

    clients: int
    level: str  # "ok", "near" or "over"
    message: str | None


def assess(clients: int, *, limit: int = RADIO_LIMIT, warn_at: int = RADIO_WARN_AT
           ) -> ClientLoad:
    """Judge a client count against the radio's comfortable limit."""
    if clients > limit:
        return ClientLoad(clients, "over", (
            f"{clients} devices are on the kiosk's Wi-Fi; the Pi's built-in radio handles "
            f"about {limit} well. Expect slow loading and drop-outs: use an external "
            "access point for a class this size."))
    if clients >= warn_at:
        return ClientLoad(clients, "near", (
            f"{clients} devices are on the kiosk's Wi-Fi, close to the ~{limit} the Pi's "
            "built-in radio handles well."))
    return ClientLoad(clients, "ok", None)
