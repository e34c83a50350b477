"""What discovery knows, for the teacher's dashboard: names, conflicts, addresses, peers."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from kiosk.discovery.interfaces import InterfaceAddresses, all_addresses
from kiosk.urls import ip_urls


@dataclass(slots=True)
class PeerKiosk:
    """Another kiosk seen on the LAN through ``_jupyter-kiosk._tcp``."""

    service: str  # full service name, e.g. "lab-2._jupyter-kiosk._tcp.local."
    name: str  # instance name, e.g. "lab-2"
    host: str | None = None  # "lab-2.local."
    addresses: list[str] = field(default_factory=list)
    port: int | None = None
    txt: dict[str, str] = field(default_factory=dict)
    last_seen: float = field(default_factory=time.time)

    @property
    def kiosk_id(self) -> str | None:
        return self.txt.get("id")

    @property
    def url(self) -> str | None:
        """The peer's web address by IP (IPv4 first), with the ``path`` of its TXT."""
        if self.port is None:
            return None
        scheme = "https" if self.txt.get("scheme") == "https" else "http"
        urls = ip_urls(self.addresses, self.port, scheme)
        if not urls:
            return None
        path = self.txt.get("path") or "/"
        return urls[0].rstrip("/") + (path if path.startswith("/") else "/" + path)


@dataclass(slots=True)
class DiscoveryStatus:
    """A live snapshot, mutated only on the event loop by the discovery tasks."""

    enabled: bool
    requested_name: str
    kiosk_id: str = ""
    announced: bool = False
    host_name: str | None = None  # "kiosk-2.local", once announced
    service_names: dict[str, str] = field(default_factory=dict)  # type → instance name
    conflicts: list[str] = field(default_factory=list)  # sentences for the teacher
    interfaces: tuple[InterfaceAddresses, ...] = ()
    urls: list[str] = field(default_factory=list)  # IP-literal URLs, IPv4 first
    peers: dict[str, PeerKiosk] = field(default_factory=dict)  # by full service name
    error: str | None = None
    last_change: float | None = None
    announce_count: int = 0  # how many times the records went out (start + changes)

    @property
    def renamed(self) -> bool:
        """True when a name conflict made the kiosk take another name."""
        return self.host_name is not None and self.host_name != f"{self.requested_name}.local"

    @property
    def addresses(self) -> list[str]:
        return all_addresses(self.interfaces)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (for the dashboard and /healthz)."""
        return {
            "enabled": self.enabled,
            "requested_name": self.requested_name,
            "kiosk_id": self.kiosk_id,
            "announced": self.announced,
            "host_name": self.host_name,
            "renamed": self.renamed,
            "service_names": dict(self.service_names),
            "conflicts": list(self.conflicts),
            "interfaces": [asdict(i) for i in self.interfaces],
            "addresses": self.addresses,
            "urls": list(self.urls),
            "peers": [{**asdict(p), "url": p.url} for p in self.peers.values()],
            "error": self.error,
            "last_change": self.last_change,
        }

    def summary(self) -> dict[str, Any]:
        """The ``discovery`` section of ``GET /api/kiosk/status``: the name, any
        conflict sentences and the other kiosks (name, URL, host, version)."""
        return {
            "enabled": self.enabled,
            "announced": self.announced,
            "host_name": self.host_name,
            "renamed": self.renamed,
            "conflicts": list(self.conflicts),
            "urls": list(self.urls),
            "peers": [{"name": p.name, "url": p.url, "host": p.host,
                       "addresses": list(p.addresses), "version": p.txt.get("version"),
                       "id": p.kiosk_id}
                      for p in sorted(self.peers.values(), key=lambda p: p.name)],
        }
