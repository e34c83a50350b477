"""Run the app: bind, announce, wait for a signal, shut down cleanly.

Startup hooks of aiohttp run before the socket binds, so everything that needs the
real port (mDNS, the printed URLs, systemd readiness) is entered here, after
``site.start()``, through the app's ``SERVING_HOOKS``. Shutdown runs them in reverse,
then lets in-flight requests finish for ``shutdown_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import ssl
from contextlib import AsyncExitStack

from aiohttp import web

from kiosk.app import create_app
from kiosk.config import KioskConfig
from kiosk.errors import KioskError, StartupError
from kiosk.keys import RUNTIME, SERVING_HOOKS

_LOGGER = logging.getLogger(__name__)


def _ssl_context(config: KioskConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(f"cannot load tls_cert/tls_key: {exc}") from None
    return ctx


async def run_until_stopped(config: KioskConfig, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set; raise :class:`StartupError` if the start fails."""
    app = create_app(config)
    runner = web.AppRunner(app, shutdown_timeout=config.shutdown_timeout,
                           handle_signals=False, access_log=None)
    try:
        await runner.setup()
    except KioskError:
        raise
    except Exception as exc:
        raise StartupError(f"the kiosk could not start: {exc!r}") from exc
    try:
        ssl_ctx = _ssl_context(config)
        site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_ctx,
                           reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
                " (is another kiosk or web server running? choose another --port)"
            ) from None
        runtime = app[RUNTIME]
        addresses = runner.addresses
        runtime.port = int(addresses[0][1]) if addresses else config.port
        runtime.scheme = "https" if ssl_ctx else "http"
        _LOGGER.info("listening on %s://%s:%s", runtime.scheme, config.host, runtime.port)
        async with AsyncExitStack() as stack:
            for hook in app[SERVING_HOOKS]:
                await stack.enter_async_context(hook(app))
            await stop.wait()
            _LOGGER.info("stopping")
    finally:
        await runner.cleanup()
        _LOGGER.info("stopped")


def raise_file_limit() -> int:
    """Lift the soft open-files limit to the hard one: each student holds several sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def serve(config: KioskConfig) -> int:
    """Run the kiosk until SIGTERM or SIGINT; return the process exit code."""
    _LOGGER.debug("open files limit: %d", raise_file_limit())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_until_stopped(config, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    return 0
