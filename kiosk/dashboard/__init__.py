"""The teacher's dashboard at ``/admin``: health, the class, shares, sync, bundles, peers.

``setup(app, config)`` adds the routes (:mod:`kiosk.dashboard.views`, and
:mod:`kiosk.dashboard.datasets` for the lesson datasets), the in-memory
sessions and sign-in limit, the "students seen" counter hook, and a cleanup context
that primes psutil's CPU figure and, on the very first start, writes the newly made
admin secret to the log once (afterwards ``kiosk admin secret`` shows it).

Nothing about students is stored: the counter keeps keyed hashes in memory only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.dashboard import datasets, language, lesson
from kiosk.dashboard.auth import LOGIN_TRIES, LOGIN_WINDOW_SECONDS, Sessions
from kiosk.dashboard.clients import RecentClients
from kiosk.dashboard.figures import prime_cpu_percent
from kiosk.dashboard.keys import LOGIN_LIMITER, RECENT_CLIENTS, SESSIONS
from kiosk.dashboard.titles import TITLES, TitleCache
from kiosk.dashboard.views import routes
from kiosk.ratelimit import SlidingWindowLimiter
from kiosk.serving.lesson import LESSON_FILE, LESSON_PIN, LessonPin
from kiosk.sharing.keys import SHARING

__all__ = ["setup"]

_LOGGER = logging.getLogger(__name__)


async def record_client(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: count the client (a keyed hash, in memory)."""
    request.app[RECENT_CLIENTS].seen(request.remote)


def setup(app: web.Application, config: KioskConfig) -> None:
    """Wire the dashboard into the app (no I/O here). Needs sharing set up before it."""
    app[SESSIONS] = Sessions()
    app[RECENT_CLIENTS] = RecentClients()
    app[TITLES] = TitleCache()
    app[LESSON_PIN] = LessonPin(config.data_path / LESSON_FILE)
    app[LOGIN_LIMITER] = SlidingWindowLimiter(LOGIN_TRIES, window=LOGIN_WINDOW_SECONDS,
                                              what="sign-in attempts")
    app.on_response_prepare.append(record_client)

    async def dashboard_ctx(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(prime_cpu_percent)
        await asyncio.to_thread(app[LESSON_PIN].load)
        if app[SHARING].admin_secret_is_new:
            _LOGGER.warning(
                "first start: the teacher's admin secret is %s (sign in at /admin; "
                "'kiosk admin secret' shows it again; this line is logged only once)",
                app[SHARING].admin_secret)
        yield

    app.cleanup_ctx.append(dashboard_ctx)
    app.router.add_routes(routes())
    app.router.add_routes(datasets.routes())
    app.router.add_routes(language.routes())
    app.router.add_routes(lesson.routes())
