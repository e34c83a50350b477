"""Guessing share links is not a strategy: a per-client limit on misses, on every route
that takes a share id.

A middleware (inside the error middleware) looks at the matched route: if its path
takes an id (``/s/{readable_id}``, ``/api/v1/notebooks/{notebook_id}``,
``/api/kiosk/shares/{ref}/upstream``, ...), a client over its miss limit gets 429 before
the lookup, and a 404 answer counts as one miss. Client addresses are in-memory keys
only, never stored.
"""

from __future__ import annotations

from aiohttp import web

from kiosk.errors import KioskError
from kiosk.middleware import Handler
from kiosk.ratelimit import MissLimiter

MISSES = web.AppKey("share_misses", MissLimiter)

#: Route variables that name a share.
ID_VARIABLES = ("{readable_id}", "{notebook_id}", "{share_id}", "{ref}")


def takes_share_id(request: web.Request) -> bool:
    route = request.match_info.route
    resource = route.resource
    canonical = resource.canonical if resource is not None else ""
    return any(var in canonical for var in ID_VARIABLES)


@web.middleware
async def miss_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """429 for a client that guessed wrong too often; count each 404 as a miss."""
    if not takes_share_id(request):
        return await handler(request)
    limiter = request.app[MISSES]
    client = request.remote or "unknown"
    limiter.check(client)
    try:
        response = await handler(request)
    except KioskError as exc:
        if exc.status == 404:
            limiter.miss(client)
        raise
    except web.HTTPNotFound:
        limiter.miss(client)
        raise
    if response.status == 404:
        limiter.miss(client)
    return response


def setup(app: web.Application, per_minute: int) -> None:
    app[MISSES] = MissLimiter(per_minute)
    app.middlewares.append(miss_limit)
