"""The active bundle as the server sees it, and how a switch reaches a running kiosk.

``BundleState`` holds the index of the bundle named by ``<bundles_dir>/current``.
A named background task polls that pointer; when it names another bundle, the new
bundle is verified and indexed in a thread and only then swapped in, so requests
see either the old bundle or the complete new one, never a mix. A bundle that fails
verification is refused: the old one stays in service and the error is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from kiosk.bundle.active import current_bundle
from kiosk.config import KioskConfig
from kiosk.errors import BundleError, StartupError
from kiosk.serving.index import BundleIndex, build_index

_LOGGER = logging.getLogger(__name__)

POLL_SECONDS = 2.0


@dataclass(slots=True)
class BundleState:
    """The active bundle's index (or None) and the last problem met switching to one."""

    bundles_dir: Path
    head_extra: str = ""
    index: BundleIndex | None = None
    error: str | None = None
    switched_at: float = field(default_factory=time.time)
    _pointer: Path | None = None

    async def load(self, *, strict: bool) -> None:
        """Index the bundle ``current`` names, if it changed. ``strict``: raise on failure."""
        try:
            target = await asyncio.to_thread(current_bundle, self.bundles_dir)
        except BundleError as exc:
            self._fail(str(exc), strict)
            return
        if target is None:
            if self.index is None:
                self.error = (f"no bundle is active in {self.bundles_dir}: run 'make bundle' "
                              "or 'kiosk bundle build'")
            return
        if target == self._pointer:
            return
        self._pointer = target
        try:
            index = await asyncio.to_thread(build_index, target, head_extra=self.head_extra)
        except BundleError as exc:
            self._fail(exc.message, strict)
            return
        except OSError as exc:
            self._fail(f"cannot read bundle {target}: {exc}", strict)
            return
        self.index = index
        self.error = None
        self.switched_at = time.time()
        _LOGGER.info("serving bundle %s (profile %s)", index.name, index.manifest.profile)

    def _fail(self, message: str, strict: bool) -> None:
        self.error = message
        if strict:
            raise StartupError(message)
        _LOGGER.error("bundle switch refused: %s", message)

    async def watch(self) -> None:
        """Poll the pointer forever (run as a named task; cancelled at shutdown)."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self.load(strict=False)


BUNDLE_STATE = web.AppKey("bundle_state", BundleState)


def bundle_context(
    config: KioskConfig,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx: load the active bundle (refusing a bad one), then watch for switches."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        state = app[BUNDLE_STATE]
        await state.load(strict=True)
        if state.index is None:
            _LOGGER.warning("%s; the landing page and sharing work meanwhile", state.error)
        task = asyncio.create_task(state.watch(), name="kiosk-bundle-watch")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx
