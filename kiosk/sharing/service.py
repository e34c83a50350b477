"""The sharing feature's one owner object: store, tokens, secrets, limits, disk guard.

Built cheaply in ``setup`` (no I/O), started and closed by the app's cleanup context.
Handlers reach it through ``request.app[SHARING]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from kiosk.backup import hold_serving_lock, refuse_newer_schema
from kiosk.clock import UNSET_BEFORE, ClockGuard
from kiosk.config import KioskConfig
from kiosk.diskspace import DiskProbe
from kiosk.errors import InsufficientStorage, KioskError
from kiosk.ratelimit import SlidingWindowLimiter
from kiosk.secrets import admin_secret_path, load_or_create_secret, signing_key_path
from kiosk.sharing.render import NotebookRenderer
from kiosk.sharing.store import ShareStore
from kiosk.sharing.tokens import TokenService
from kiosk.sharing.validate import notebook_problem

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

RETENTION_SWEEP_SECONDS = 3600.0
#: threads for bcrypt and share body parsing (see SharingService.run_cpu)
CPU_THREADS = 2
# While the clock is not set, look again often: it may jump any moment.
UNTRUSTED_CLOCK_SWEEP_SECONDS = 10.0


class DiskGuard:
    """Refuses new writes (507) while free space in the data directory is too low."""

    def __init__(self, probe: DiskProbe, min_free_bytes: int) -> None:
        self.probe = probe
        self.min_free_bytes = min_free_bytes

    async def check(self) -> None:
        if self.min_free_bytes <= 0:
            return
        free, _total = await self.probe.usage()
        if free < self.min_free_bytes:
            raise InsufficientStorage(
                "The kiosk's storage is almost full, so it cannot keep new work; ask the "
                "teacher to clear old shares.")


class SharingService:
    """Everything the sharing handlers need, with one start/close."""

    def __init__(self, config: KioskConfig, *, disk: DiskProbe | None = None,
                 clock: ClockGuard | None = None) -> None:
        self.config = config
        self.store = ShareStore.in_data_dir(config.data_path)
        # Whether this start created the teacher's admin secret (the kiosk's first start).
        self.admin_secret_is_new = False
        self.issue_limiter = SlidingWindowLimiter(config.rate_issue_per_minute,
                                                  what="token requests")
        self.post_limiter = SlidingWindowLimiter(config.rate_post_per_minute,
                                                 what="new shares")
        self.disk = DiskGuard(disk or DiskProbe(config.data_path),
                              int(config.min_free_disk_mib * 1048576))
        self.renderer = NotebookRenderer(max_cells=config.render_max_cells,
                                         timeout=config.render_timeout)
        self.clock = clock or ClockGuard(config.data_path)
        self._tokens: TokenService | None = None
        # Password hashing and body parsing of shares run here, not on the default
        # executor that serves static files: a burst of shares waits for these two
        # threads instead of delaying every student's page load.
        self._cpu = ThreadPoolExecutor(max_workers=CPU_THREADS,
                                       thread_name_prefix="kiosk-share-cpu")
        self._admin_secret: str | None = None
        self._retention_task: asyncio.Task[None] | None = None
        self._lock_fd: int | None = None

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
        # A data directory of a newer kiosk is refused before anything in it is touched.
        await asyncio.to_thread(refuse_newer_schema, data)
        self._lock_fd = await asyncio.to_thread(hold_serving_lock, data)  # keeps restore out
        key = await asyncio.to_thread(load_or_create_secret, signing_key_path(data))
        secret_path = admin_secret_path(data)
        self.admin_secret_is_new = not await asyncio.to_thread(secret_path.exists)
        self._admin_secret = await asyncio.to_thread(load_or_create_secret, secret_path)
        self._tokens = TokenService(key, self.config.token_days * 86400, clock=self.clock)
        await self.store.start()
        self.renderer.warm()  # the small lane's worker starts now, not at the first view
        # Compile the nbformat schema now so the first share does not wait for it.
        await asyncio.to_thread(notebook_problem, {"nbformat": 4, "nbformat_minor": 5,
                                                   "metadata": {}, "cells": []})
        self._retention_task = asyncio.create_task(self._housekeeping(),
                                                   name="sharing-housekeeping")

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound share work (bcrypt, JSON parsing) on the bounded share pool."""
        return await asyncio.get_running_loop().run_in_executor(self._cpu, fn, *args)

    async def close(self) -> None:
        """Stop the sweep and close the store (idempotent)."""
        task, self._retention_task = self._retention_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.renderer.close()
        await self.store.close()
        await asyncio.to_thread(self._cpu.shutdown, wait=True, cancel_futures=True)
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    async def sweep(self) -> int:
        """Judge the clock, then apply the retention setting once and expire old
        idempotency keys. Retention never runs on a clock that is not trusted, and rows
        stamped by such a clock are re-stamped first (see :mod:`kiosk.clock`)."""
        removed = 0
        clock = self.clock
        newest = await self.store.execute_read(
            lambda c: c.execute("SELECT max(updated_at) FROM shares").fetchone()[0])
        clock.note_newest(newest)
        verdict = await asyncio.to_thread(clock.refresh)
        if not verdict.trusted:
            if self.config.retention_days > 0:
                _LOGGER.warning("retention skipped: %s", verdict.reason)
            return 0
        restamped = await self.store.execute_write(
            lambda c: _restamp(c, UNSET_BEFORE, verdict.now))
        if restamped:
            _LOGGER.info("clock set: %d rows saved while it was not set now date from %s",
                         restamped, time.strftime("%Y-%m-%d %H:%M", time.gmtime(verdict.now)))
        if self.config.retention_days > 0:
            cutoff = verdict.now - self.config.retention_days * 86400
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
            untrusted = not self.clock.verdict().trusted
            await asyncio.sleep(UNTRUSTED_CLOCK_SWEEP_SECONDS if untrusted
                                else RETENTION_SWEEP_SECONDS)


def _restamp(conn: Any, before: float, now: float) -> int:
    """Give rows stamped by an unset clock (earlier than ``before``) the time ``now``."""
    changed = conn.execute("UPDATE shares SET updated_at = ? WHERE updated_at < ?",
                           (now, before)).rowcount
    changed += conn.execute("UPDATE shares SET created_at = ? WHERE created_at < ?",
                            (now, before)).rowcount
    conn.execute("UPDATE idempotency_keys SET created_at = ? WHERE created_at < ?",
                 (now, before))
    return int(changed)
