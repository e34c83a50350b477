"""API and dashboard paths answer only for the kiosk's own names and addresses.

A website a student visits can make its own name resolve to the kiosk's address (DNS
rebinding) and then call the kiosk from her browser as a "same-origin" page of that
site. The browser still sends the site's name in ``Host``, so the kiosk refuses it
(421 Misdirected Request) on every path that acts or reveals: ``/api/``, ``/admin``,
``/s/`` and ``/_kiosk/``. Accepted: any IP literal, ``localhost``, the kiosk's name
(``<name>``, ``<name>.local`` and the name mDNS actually announced after a clash,
``<name>.lan``), the hotspot alias (``<alias>.lan``), the machine's host name, and the
``host_aliases`` setting (names in a TLS certificate, a school DNS name, an upstream
name other kiosks sync to). Captive-portal probes and the bundle stay open to any
``Host``: they reveal nothing a LAN neighbour cannot fetch, and phones send the probe
hosts' names.
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.discovery.keys import DISCOVERY_STATUS
from kiosk.errors import KioskError
from kiosk.middleware import Handler

GUARDED_PREFIXES = ("/api/", "/admin", "/s/", "/_kiosk/")


class MisdirectedRequest(KioskError):
    status = 421
    code = "misdirected_request"


def host_name_of(host: str) -> str:
    """The name or address part of a ``Host`` value, lower case, without port or dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def static_names(config: KioskConfig) -> frozenset[str]:
    """The names that are always the kiosk's own (see the module docstring)."""
    machine = socket.gethostname().lower()
    names = {"localhost", config.name, f"{config.name}.local", f"{config.name}.lan",
             machine, f"{machine}.local", *(a.lower().rstrip(".") for a in config.host_aliases)}
    if config.hotspot_alias:
        names |= {config.hotspot_alias, f"{config.hotspot_alias}.lan"}
    return frozenset(names)


def is_own_host(app: web.Application, host: str) -> bool:
    name = host_name_of(host)
    try:
        ipaddress.ip_address(name.split("%", 1)[0])  # a link-local literal has a zone
        return True
    except ValueError:
        pass
    if name in app[OWN_NAMES]:
        return True
    status = app.get(DISCOVERY_STATUS)
    announced = getattr(status, "host_name", None)
    return bool(announced) and name == str(announced).lower().rstrip(".")


OWN_NAMES = web.AppKey("own_host_names", frozenset)


@web.middleware
async def host_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    """421 for an API or dashboard request addressed to a name that is not the kiosk's."""
    # The header itself: aiohttp's request.host would look the machine's name up when
    # it is missing, blocking the loop. No Host on these paths is refused too.
    host = request.headers.get("Host", "")
    if request.path.startswith(GUARDED_PREFIXES) and not (host and is_own_host(request.app,
                                                                                host)):
        raise MisdirectedRequest(
            f"This kiosk does not answer to the name '{host_name_of(host)[:80]}'. "
            "Open it by its address or its own name (a teacher can add names with the "
            "host_aliases setting).")
    return await handler(request)


def setup(app: web.Application, config: KioskConfig) -> None:
    app[OWN_NAMES] = static_names(config)
    app.middlewares.append(host_check)

