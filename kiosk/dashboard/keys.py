"""Application keys owned by the teacher's dashboard."""

from __future__ import annotations

from aiohttp import web

from kiosk.dashboard.auth import Sessions
from kiosk.dashboard.clients import RecentClients
from kiosk.ratelimit import SlidingWindowLimiter

SESSIONS = web.AppKey("dashboard_sessions", Sessions)
RECENT_CLIENTS = web.AppKey("dashboard_recent_clients", RecentClients)
LOGIN_LIMITER = web.AppKey("dashboard_login_limiter", SlidingWindowLimiter)
