"""The kiosk's URLs as a viewer should see them: IP literals, never ``.local``.

Placeholder kept minimal by the serving layer; the discovery module owns the full
set of helpers (per-interface URLs for mDNS and the start banner).
"""

from __future__ import annotations

import ipaddress

from aiohttp import web


def viewer_url(request: web.Request) -> str:
    """The IP-literal URL of the interface this viewer reached the kiosk through."""
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    scheme = "https" if request.secure else "http"
    if not sock:
        return f"{scheme}://{request.host}/"
    ip = ipaddress.ip_address(sock[0].split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    port = sock[1]
    default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    return f"{scheme}://{literal}/" if default else f"{scheme}://{literal}:{port}/"
