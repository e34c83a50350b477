"""Application keys shared by every part of the web app.

Keys owned by one capability live next to it (``kiosk.sharing.keys`` and so on), so
capabilities do not import each other; this module holds the ones everybody reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.diskspace import DiskProbe


@dataclass(slots=True)
class RuntimeInfo:
    """Facts known only once the server runs: where it listens, since when."""

    started_at: float = field(default_factory=time.time)
    port: int | None = None
    urls: list[str] = field(default_factory=list)
    scheme: str = "http"


CONFIG = web.AppKey("config", KioskConfig)
RUNTIME = web.AppKey("runtime", RuntimeInfo)

# Async context managers entered once the socket is bound (the real port is known)
# and exited before the runner cleans up: mDNS announcement, readiness, watchdog.
# Each receives the application; see kiosk.server.
ServingHook = Callable[[web.Application], AbstractAsyncContextManager[None]]
SERVING_HOOKS = web.AppKey("serving_hooks", list[ServingHook])
#: free space of the data directory, shared by health, sharing's 507 guard and metrics
DISK_PROBE = web.AppKey("disk_probe", DiskProbe)
