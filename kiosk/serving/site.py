"""The origin a request reached the kiosk by, checked before it is written anywhere.

The kiosk answers under many names (an IP on each interface, ``<name>.local``,
``localhost``); pages and ``jupyter-lite.json`` must point back at the one the
browser used. The ``Host`` header is client input, so it is validated strictly: a
host name or IP literal and an optional port, nothing else.
"""

from __future__ import annotations

import ipaddress
import re

from aiohttp import web

from kiosk.errors import BadRequest
from kiosk.urls import API_PREFIX

_HOST_RE = re.compile(
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


def request_host(request: web.Request) -> str:
    """``host[:port]`` as the browser addressed us, validated; from the socket if absent."""
    raw = request.headers.get("Host")
    if raw is None:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        if not sock:
            raise BadRequest("the request has no Host header")
        ip = ipaddress.ip_address(sock[0])
        literal = f"[{ip}]" if ip.version == 6 else str(ip)
        return f"{literal}:{sock[1]}"
    match = _HOST_RE.fullmatch(raw.strip())
    if not match or (match.group("port") and int(match.group("port")) > 65535):
        raise BadRequest("the Host header is not a valid host name or address")
    host = match.group("host")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise BadRequest("the Host header has an invalid IPv6 address") from None
    return match.group(0)


def request_origin(request: web.Request) -> str:
    """``scheme://host[:port]`` of this request."""
    scheme = "https" if request.secure else "http"
    return f"{scheme}://{request_host(request)}"


def api_base_url(request: web.Request) -> str:
    """The sharing API's absolute base URL for this request's origin."""
    return request_origin(request) + API_PREFIX
