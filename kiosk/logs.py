"""Logging set-up: one line per event on stderr, which journald collects under systemd."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(level: str) -> None:
    """Configure the root logger once (called by the CLI, never at import)."""
    # journald stamps each line itself; a terminal wants the time.
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not under_journald:
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
