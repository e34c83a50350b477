"""systemd integration without a dependency: readiness, status lines and the watchdog.

systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract socket) to a
``Type=notify`` service and ``WATCHDOG_USEC`` (with ``WATCHDOG_PID``) when
``WatchdogSec=`` is set. ``setup(app, config)`` adds:

- a cleanup context that opens the datagram socket and says ``STATUS=starting``;
- a serving hook (entered once the socket is bound, see :mod:`kiosk.server`) that
  sends ``READY=1``, starts the named watchdog task, and on the way out sends
  ``STOPPING=1`` and stops the task.

The watchdog ping comes from a task on the event loop, so a blocked or wedged loop
stops the pings and systemd restarts the kiosk. Outside systemd all of it is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.keys import RUNTIME, SERVING_HOOKS

_LOGGER = logging.getLogger(__name__)

# A late ping by more than this share of the interval means the loop was blocked.
_LAG_WARNING = 0.5


def notify_address(value: str | None) -> str | bytes | None:
    """The ``NOTIFY_SOCKET`` value as an ``AF_UNIX`` address (``@x``: abstract ``\\0x``)."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    # vsock addresses (vsock:CID:PORT) are for VMs; the kiosk never runs that way.
    _LOGGER.warning("ignoring NOTIFY_SOCKET=%r: only paths and @abstract names are supported",
                    value)
    return None


def watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds between pings (half of ``WATCHDOG_USEC``), or None if no watchdog is asked for."""
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None  # the watchdog is meant for another process (e.g. a wrapper's child)
    try:
        usec = int(raw)
    except ValueError:
        _LOGGER.warning("ignoring WATCHDOG_USEC=%r: not a whole number", raw)
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000 / 2


class Notifier:
    """Sends ``sd_notify`` messages; every method is a no-op when systemd did not ask."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.address = notify_address(env.get("NOTIFY_SOCKET"))
        self.watchdog_interval = watchdog_interval(env) if self.address is not None else None
        self.sent: int = 0
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def open(self) -> None:
        """Create the (non-blocking) datagram socket; failures only log."""
        if self.address is None or self._sock is not None:
            return
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        except OSError as exc:
            _LOGGER.warning("cannot create the systemd notify socket: %s", exc)
            return
        # sendto on a full receive queue must never block the loop: drop instead.
        sock.setblocking(False)
        self._sock = sock

    def notify(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=value`` lines; True if it went out."""
        if self._sock is None or self.address is None:
            return False
        message = "\n".join(lines).encode()
        try:
            self._sock.sendto(message, self.address)
        except OSError as exc:
            _LOGGER.warning("systemd notify (%s) failed: %s", lines[0] if lines else "", exc)
            return False
        self.sent += 1
        return True

    def status(self, text: str) -> bool:
        """Set the one-line status ``systemctl status kiosk`` shows."""
        return self.notify("STATUS=" + text.replace("\n", " "))

    def start_watchdog(self) -> None:
        """Start the named ping task (idempotent; nothing without ``WATCHDOG_USEC``)."""
        if self.watchdog_interval is None or self._task is not None or self._sock is None:
            return
        self._task = asyncio.create_task(self._watchdog(self.watchdog_interval),
                                         name="kiosk-systemd-watchdog")

    async def stop_watchdog(self) -> None:
        """Cancel the ping task and wait for it (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watchdog(self, interval: float) -> None:
        self.notify("WATCHDOG=1")
        while True:
            before = time.monotonic()
            await asyncio.sleep(interval)
            late = time.monotonic() - before - interval
            if late > interval * _LAG_WARNING:
                # The ping still goes out: the loop runs again. If it had stayed stuck
                # for the whole WatchdogSec, no ping would have been sent at all.
                _LOGGER.warning("event loop was blocked for about %.1f s", late)
            self.notify("WATCHDOG=1")

    def close(self) -> None:
        """Close the socket (idempotent); stop the watchdog first."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


NOTIFIER = web.AppKey("systemd_notifier", Notifier)


def setup(app: web.Application, config: KioskConfig) -> None:
    """Add the notifier, its cleanup context and the readiness serving hook."""
    # Read the environment here, not at import time: the factory runs in the service.
    notifier = Notifier(dict(os.environ))
    app[NOTIFIER] = notifier

    async def notifier_ctx(app: web.Application) -> AsyncIterator[None]:
        notifier.open()
        notifier.status("starting: loading the bundle and the share store")
        try:
            yield
        finally:
            await notifier.stop_watchdog()
            notifier.close()

    app.cleanup_ctx.append(notifier_ctx)
    app[SERVING_HOOKS].append(ready_hook)


@contextlib.asynccontextmanager
async def ready_hook(app: web.Application) -> AsyncIterator[None]:
    """Serving hook: READY=1 and the watchdog while serving; STOPPING=1 on the way out."""
    notifier = app[NOTIFIER]
    runtime = app[RUNTIME]
    where = runtime.urls[0] if runtime.urls else f"port {runtime.port}"
    notifier.notify("READY=1", f"STATUS=serving on {where}", f"MAINPID={os.getpid()}")
    notifier.start_watchdog()
    if notifier.enabled:
        _LOGGER.info("told systemd the kiosk is ready (watchdog: %s)",
                     f"every {notifier.watchdog_interval:g} s"
                     if notifier.watchdog_interval else "off")
    try:
        yield
    finally:
        notifier.notify("STOPPING=1", "STATUS=stopping: finishing requests")
        await notifier.stop_watchdog()
