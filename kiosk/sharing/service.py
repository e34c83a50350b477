"""The sharing feature's one owner object: store, tokens, secrets, limits, disk guard.

Built cheaply in ``setup`` (no I/O), started and closed by the app's cleanup context.
Handlers reach it through ``request.app[SHARING]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.errors import InsufficientStorage, KioskError
from kiosk.secrets import admin_secret_path, load_or_create_secret, signing_key_path
from kiosk.sharing.ratelimit import SlidingWindowLimiter
from kiosk.sharing.render import NotebookRenderer
from kiosk.sharing.store import Share, ShareStore
from kiosk.sharing.tokens import TokenService
from kiosk.sharing.validate import notebook_problem

_LOGGER = logging.getLogger(__name__)

RETENTION_SWEEP_SECONDS = 3600.0


class DiskGuard:
    """Refuses new writes (507) while free space in the data directory is too low.

    ``shutil.disk_usage`` runs in a thread and its answer is reused for ``ttl`` seconds.
    """

    def __init__(self, path: Path, min_free_bytes: int, *, ttl: float = 5.0) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes
        self.ttl = ttl
        self._free: int | None = None
        self._checked_at = -1e18

    async def check(self) -> None:
        if self.min_free_bytes <= 0:
            return
        now = time.monotonic()
        if self._free is None or now - self._checked_at > self.ttl:
            usage = await asyncio.to_thread(shutil.disk_usage, self.path)
            self._free, self._checked_at = usage.free, now
        if self._free < self.min_free_bytes:
            raise InsufficientStorage(
                "The kiosk's storage is almost full, so it cannot keep new work; ask the "
                "teacher to clear old shares.")


class SharingService:
    """Everything the sharing handlers need, with one start/close."""

    def __init__(self, config: KioskConfig) -> None:
        self.config = config
        # The outbox fills only once the teacher configured an upstream and turned sync on.
        self.store = ShareStore.in_data_dir(
            config.data_path, outbox=bool(config.sync_enabled and config.upstream_url))
        # Set by kiosk.sync when it runs: fetch a notebook this kiosk does not hold from
        # the upstream (and its offline cache); see api._find.
        self.pull_through: Callable[[str], Awaitable[Share | None]] | None = None
        self.issue_limiter = SlidingWindowLimiter(config.rate_issue_per_minute,
                                                  what="token requests")
        self.post_limiter = SlidingWindowLimiter(config.rate_post_per_minute,
                                                 what="new shares")
        self.disk = DiskGuard(config.data_path, int(config.min_free_disk_mib * 1048576))
        self.renderer = NotebookRenderer(max_cells=config.render_max_cells,
                                         timeout=config.render_timeout)
        self._tokens: TokenService | None = None
        self._admin_secret: str | None = None
        self._retention_task: asyncio.Task[None] | None = None

    @property
    def domain_id(self) -> str:
        """What every answer gives as ``domain_id``: the kiosk's name, never a client's."""
        return self.config.name

    @property
    def tokens(self) -> TokenService:
        if self._tokens is None:
            raise KioskError("sharing is not started")
        return self._tokens

    @property
    def admin_secret(self) -> str:
        if self._admin_secret is None:
            raise KioskError("sharing is not started")
        return self._admin_secret

    async def start(self) -> None:
        """Load (or create) the secrets, open the store, start the retention sweep."""
        data = self.config.data_path
        key = await asyncio.to_thread(load_or_create_secret, signing_key_path(data))
        self._admin_secret = await asyncio.to_thread(load_or_create_secret,
                                                     admin_secret_path(data))
        self._tokens = TokenService(key, self.config.token_days * 86400)
        await self.store.start()
        self.renderer.warm()  # the small lane's worker starts now, not at the first view
        # Compile the nbformat schema now so the first share does not wait for it.
        await asyncio.to_thread(notebook_problem, {"nbformat": 4, "nbformat_minor": 5,
                                                   "metadata": {}, "cells": []})
        self._retention_task = asyncio.create_task(self._housekeeping(),
                                                   name="sharing-housekeeping")

    async def close(self) -> None:
        """Stop the sweep and close the store (idempotent)."""
        task, self._retention_task = self._retention_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.renderer.close()
        await self.store.close()

    async def sweep(self) -> int:
        """Apply the retention setting once and expire old idempotency keys."""
        removed = 0
        if self.config.retention_days > 0:
            cutoff = time.time() - self.config.retention_days * 86400
            removed = await self.store.purge_older_than(cutoff)
            if removed:
                _LOGGER.info("retention: deleted %d shares older than %g days", removed,
                             self.config.retention_days)
        await self.store.expire_idempotency_keys()
        return removed

    async def _housekeeping(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                _LOGGER.exception("share retention sweep failed; will retry")
            await asyncio.sleep(RETENTION_SWEEP_SECONDS)
