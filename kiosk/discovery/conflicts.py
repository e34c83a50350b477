"""Who else answers for a host name: the evidence behind name-conflict decisions.

RFC 6762 §9 asks a responder to keep watching for conflicts after it has claimed a
name: two kiosks that started apart (one on a Wi-Fi that was down, say) can both own
``lab.local`` once their networks join. python-zeroconf does not do this for host
names, so the kiosk does it with two pieces:

* :class:`ClaimWatcher`, a python-zeroconf record listener on one link's instance,
  notes every A/AAAA record that arrives for a watched host name (ours, or one we
  are about to try), with the time it arrived. Goodbyes (TTL 0) are not claims.
* The same listener notices a goodbye (TTL 0) from another device for a PTR record
  we still announce. Two kiosks that held one name share the PTR
  ``_jupyter-kiosk._tcp.local. → lab._jupyter-kiosk._tcp.local.`` byte for byte,
  so the goodbyes of the one that renames would wipe the other's entry from every
  cache on the LAN; ``on_clobbered`` lets the responder announce again.
* :func:`keeps_name`, the tie-break when two kiosks find each other holding one
  name. It mimics RFC 6762 §8.2 (simultaneous probing): the side whose address data
  is lexicographically later keeps the name, the other renames. Both kiosks see the
  same two address sets on the shared link, so they reach the same verdict without
  talking to each other.

Pure apart from the listener callback, which python-zeroconf calls on the loop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from zeroconf import RecordUpdate, RecordUpdateListener, Zeroconf

# DNS type numbers (RFC 1035, RFC 3596).
TYPE_A = 1
TYPE_PTR = 12
TYPE_AAAA = 28


def _packed(addresses: Iterable[str], version: int) -> list[bytes]:
    out = []
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        if ip.version == version:
            out.append(ip.packed)
    return sorted(out)


def keeps_name(mine: Iterable[str], theirs: Iterable[str]) -> bool:
    """Whether we keep a host name that another device also answers for.

    ``mine`` are our addresses on the link where the clash was seen, ``theirs`` the
    other device's. IPv4 data is compared when both sides have some, else IPv6;
    the lexicographically later set wins, as in RFC 6762's probe tie-break. With
    nothing to compare we give way (renaming is always safe).
    """
    mine, theirs = list(mine), list(theirs)
    for version in (4, 6):
        ours, other = _packed(mine, version), _packed(theirs, version)
        if ours and other:
            return ours > other
    return False


class ClaimWatcher(RecordUpdateListener):
    """Records the A/AAAA answers seen for watched host names on one link.

    ``on_foreign`` is called (on the loop) when an answer for the *current* name
    carries an address that is not one of ``own()``: someone else claims our name.
    ``on_clobbered`` is called when a goodbye arrives for a PTR record pointing at
    one of ``services()`` (our registered service names, lower case).
    """

    def __init__(self, own: Callable[[], set[str]],
                 on_foreign: Callable[[], None] | None = None, *,
                 services: Callable[[], set[str]] = set,
                 on_clobbered: Callable[[], None] | None = None) -> None:
        self._own = own
        self._on_foreign = on_foreign
        self._services = services
        self._on_clobbered = on_clobbered
        self.current: str | None = None  # our host name, "lab.local."
        self._checking: set[str] = set()  # names being tried
        # name → address → time (ms, python-zeroconf's clock) it was last seen
        self._seen: dict[str, dict[str, float]] = {}

    def watch(self, name: str) -> None:
        self._checking.add(name.lower())

    def unwatch(self, name: str) -> None:
        key = name.lower()
        self._checking.discard(key)
        if key != (self.current or "").lower():
            self._seen.pop(key, None)

    def set_current(self, name: str | None) -> None:
        old = (self.current or "").lower()
        self.current = name
        if old and old not in self._checking and old != (name or "").lower():
            self._seen.pop(old, None)

    def seen_since(self, name: str, since_ms: float) -> list[str]:
        """Addresses answered for ``name`` at or after ``since_ms``."""
        return [a for a, t in self._seen.get(name.lower(), {}).items() if t >= since_ms]

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        current = (self.current or "").lower()
        foreign = clobbered = False
        for update in records:
            record = update.new
            if record.type == TYPE_PTR and record.ttl == 0:
                alias = getattr(record, "alias", None)
                if isinstance(alias, str) and alias.lower() in self._services():
                    clobbered = True
                continue
            if record.type not in (TYPE_A, TYPE_AAAA):
                continue
            name = record.name.lower()
            if name != current and name not in self._checking:
                continue
            address = _address_text(record)
            if address is None:
                continue
            if record.ttl == 0:  # a goodbye: that address no longer claims the name
                self._seen.get(name, {}).pop(address, None)
                continue
            self._seen.setdefault(name, {})[address] = now
            if name == current and address not in self._own():
                foreign = True
        if foreign and self._on_foreign is not None:
            self._on_foreign()
        if clobbered and self._on_clobbered is not None:
            self._on_clobbered()


def _address_text(record: object) -> str | None:
    packed = getattr(record, "address", None)
    if not isinstance(packed, bytes):
        return None
    try:
        return str(ipaddress.ip_address(packed))
    except ValueError:
        return None
