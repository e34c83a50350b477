"""Application keys owned by discovery."""

from __future__ import annotations

from aiohttp import web

from kiosk.discovery.status import DiscoveryStatus

# Set by kiosk.discovery.setup, always (mDNS on or off): names, addresses, other kiosks.
DISCOVERY_STATUS = web.AppKey("discovery_status", DiscoveryStatus)
