"""``kiosk serve``: run the kiosk."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from kiosk.config import KioskConfig
from kiosk.logs import setup_logging


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("serve", parents=[common], help="run the kiosk (foreground)",
                            description="Serve the active bundle, the sharing API and the "
                            "teacher's pages until SIGTERM or Ctrl-C.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.server import serve

    setup_logging(config.log_level)
    return asyncio.run(serve(config))
