"""The app factory: one place where every capability is wired into the web app.

``create_app(config)`` builds an :class:`aiohttp.web.Application`, binds nothing and
starts nothing; resources start in ``cleanup_ctx`` when the runner sets the app up,
in the order of ``COMPONENTS``, and stop in reverse. Tests call the same factory.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from kiosk import (
    clockcheck,
    dashboard,
    discovery,
    downloads,
    health,
    hostcheck,
    hotspot,
    metrics,
    relay,
    serving,
    sharing,
    status,
    sync,
    systemd,
)
from kiosk.bundle import served
from kiosk.clock import CLOCK_GUARD, ClockGuard
from kiosk.config import KioskConfig
from kiosk.diskspace import DiskProbe
from kiosk.keys import CONFIG, DISK_PROBE, RUNTIME, SERVING_HOOKS, RuntimeInfo
from kiosk.middleware import errors_middleware, security_headers
from kiosk.templating import setup as setup_templates

Component = Callable[[web.Application, KioskConfig], None]

# Order matters: cleanup contexts start in this order and stop in reverse, and
# routes match in the order they were added, so the bundle's catch-all comes last.
COMPONENTS: list[Component] = [
    sharing.setup,
    status.setup,
    discovery.setup,  # after status (its section)
    relay.setup,
    downloads.setup,
    hotspot.setup,  # after status (its section); before serving (probe paths)
    health.setup,
    clockcheck.setup,  # after status and health (its section and check)
    served.setup,  # records the bundles dir for the CLI once listening
    sync.setup,  # after sharing (its store), status and health (its section and check)
    metrics.setup,
    dashboard.setup,  # after sharing, discovery, status (reads their keys)
    systemd.setup,  # after every serving hook: READY=1 last in, STOPPING=1 first out
    serving.setup,  # keep last: it adds the catch-all route of the bundle
]

# Leaves room above the largest notebook for the JSON wrapping of a share request.
_BODY_SLACK = 1024 * 1024


def create_app(config: KioskConfig) -> web.Application:
    """Build the kiosk's web application from its configuration."""
    app = web.Application(
        middlewares=[errors_middleware],
        client_max_size=config.max_notebook_bytes + _BODY_SLACK,
        handler_args={"max_field_size": 8190, "max_line_size": 8190},
    )
    app[CONFIG] = config
    app[RUNTIME] = RuntimeInfo()
    app[SERVING_HOOKS] = []
    app[DISK_PROBE] = DiskProbe(config.data_path)
    app[CLOCK_GUARD] = ClockGuard(config.data_path)  # sharing judges by it; clockcheck tells
    app.on_response_prepare.append(security_headers)
    hostcheck.setup(app, config)  # first inner middleware: before any handler runs
    setup_templates(app, config)  # pages' environment, stylesheet, language; before routes
    for component in COMPONENTS:
        component(app, config)
    return app
