"""Which bundles directory the kiosk serves from, for the commands that run beside it.

``make run`` starts ``kiosk serve --bundles-dir bundles/dist``; a later ``kiosk status``
or ``kiosk doctor`` has no such flag and would look in ``<data_dir>/bundles``. So
``kiosk serve``, once it listens (:func:`setup`), records the absolute path of the
bundles directory it serves in ``<data_dir>/bundles-dir``, and :func:`bundles_dir_for`
gives the other commands the same answer: an explicit ``bundles_dir`` setting first,
then the recorded directory (while it still exists), then the default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.keys import CONFIG, SERVING_HOOKS

_LOGGER = logging.getLogger(__name__)

RECORD_FILE = "bundles-dir"


def record_served(config: KioskConfig) -> None:
    """Note, in the data directory, the bundles directory ``kiosk serve`` uses.

    Written only when it changed (a Pi's SD card is not rewritten at every start), by
    a rename; a data directory that cannot be written only costs the note.
    """
    path = config.data_path / RECORD_FILE
    value = os.path.abspath(config.bundles_path)
    try:
        if path.read_text(encoding="utf-8").strip() == value:
            return
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    except OSError as exc:
        _LOGGER.warning("cannot read %s: %s", path, exc)
        return
    tmp = path.with_name(f".{RECORD_FILE}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp.write_text(value + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        _LOGGER.warning("cannot record the bundles directory in %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()


def recorded(data_dir: Path) -> Path | None:
    """The bundles directory the last ``kiosk serve`` recorded, if it still exists."""
    try:
        text = (data_dir / RECORD_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text:
        return None
    path = Path(text)
    return path if path.is_absolute() and path.is_dir() else None


def bundles_dir_for(config: KioskConfig) -> Path:
    """The bundles directory a command beside the kiosk should look at."""
    if config.bundles_dir is not None:
        return config.bundles_dir
    return recorded(config.data_path) or config.bundles_path


@contextlib.asynccontextmanager
async def _record_hook(app: web.Application) -> AsyncIterator[None]:
    await asyncio.to_thread(record_served, app[CONFIG])
    yield


def setup(app: web.Application, config: KioskConfig) -> None:
    """Record the bundles directory once the kiosk listens (a failed start records none)."""
    app[SERVING_HOOKS].append(_record_hook)
