"""The sync scheduler: forwards the store's outbox to the upstream whenever it answers.

One named task (``kiosk-sync``) runs rounds: a round probes the upstream's ``health``
(cheap, short timeout; skipped while a recent probe or send succeeded), then drains
the due outbox rows with at most ``sync_concurrency`` notebooks in flight and each
notebook strictly in order (one row per notebook, never two sends of one notebook
at once). Between rounds it sleeps until the next row is due, ``sync_interval``
passes, or :meth:`SyncWorker.wake` is called (after each local write, "sync now").

What to send and when is decided here; how is the business of the
:class:`~kiosk.sync.upstream.Upstream` of the link's kind (:mod:`kiosk.sync.je`,
:mod:`kiosk.sync.hub`), with tokens from :class:`~kiosk.sync.tokens.TokenCache` and
SQL from :mod:`kiosk.sync.outbox`.

Exactly-once where the upstream allows it: a POST's exact body and ``Idempotency-Key``
(``<kiosk id>:<share id>:<version>``) are committed before it is sent, and the session
token is kept in the store, so a retry after a lost answer (or a SIGKILL) is the same
request: a hub replays it; JE cannot, so there it is counted as a possible duplicate.

Failures get full-jitter exponential backoff per row, stored in the database, so it
survives a restart; a lost connection ends the round and makes the upstream
"unreachable" until the next successful probe, which makes every row due again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from kiosk.config import KioskConfig
from kiosk.errors import KioskError, UpstreamError
from kiosk.sharing.store import Share, ShareStore
from kiosk.sharing.upstream import UpstreamRef
from kiosk.sync import outbox
from kiosk.sync.client import (
    AnswerLost,
    UpstreamClient,
    UpstreamUnreachable,
    post_body,
    safe_url,
)
from kiosk.sync.hub import KioskHub
from kiosk.sync.je import JupyterEverywhere
from kiosk.sync.outbox import OutboxCounts, UpstreamLink, WorkUnit
from kiosk.sync.site import site_notice, take_home_site
from kiosk.sync.tokens import TokenCache
from kiosk.sync.upload import upstream_content
from kiosk.sync.upstream import (
    PostRefused,
    Repeating,
    Upstream,
    UpstreamGone,
    UpstreamRefused,
)

_LOGGER = logging.getLogger(__name__)

# A successful probe or send within this many seconds stands for a fresh probe.
PROBE_FRESH_SECONDS = 10.0
STUCK_ATTEMPTS = 5
COUNTS_EVERY_SECONDS = 1.0
JE_PRIVACY_NOTICE = (
    "Shared notebooks are copied to the Jupyter Everywhere service. It stores, with each "
    "copy, the address it came from (the school's public internet address) and shows it "
    "as domain_id to anyone who opens the copy with its code; it keeps its copies when "
    "shares are deleted here (teacher deletes and retention are not forwarded). Only the "
    "notebook goes up, without the kiosk's own metadata.")


@dataclass(slots=True)
class SyncStatus:
    """A snapshot for the status endpoint, the dashboard and ``kiosk sync status``."""

    enabled: bool
    upstream: str | None
    kind: str | None
    reachable: bool | None
    queued: int = 0
    due: int = 0
    in_flight: int = 0
    failing: int = 0
    oldest_queued_at: float | None = None
    synced: int = 0
    sent: int = 0
    retries: int = 0
    possible_duplicates: int = 0
    refused: int = 0
    privacy_notice: str | None = None
    take_home_site: str | None = None
    site_notice: str | None = None
    last_success_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    last_probe_at: float | None = None
    last_round_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class SyncWorker:
    """Drains the outbox to ``config.upstream_url``; see the module docstring.

    ``clock`` is the time the token cache believes (tests move it days ahead);
    outbox times are always wall-clock. A worker for a kiosk without sync is inert:
    ``start`` does nothing and ``wake`` is a no-op, so callers need not check.
    """

    def __init__(self, config: KioskConfig, store: ShareStore, *,
                 clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.store = store
        self.db = store.db
        self.clock = clock
        self.enabled = bool(config.sync_enabled and config.upstream_url)
        self.base = (config.upstream_url or "").rstrip("/")
        self.kind: str | None = None if config.upstream_kind == "auto" else config.upstream_kind
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._status = SyncStatus(self.enabled, safe_url(self.base) if self.base else None,
                                  self.kind, None)
        self._wake = asyncio.Event()
        self._reset_requested = False
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.client: UpstreamClient | None = None
        self.tokens: TokenCache | None = None
        self._upstreams: dict[str, Upstream] = {}
        self._round_lock = asyncio.Lock()
        self._in_flight: set[str] = set()
        # Whether the upstream's last health answer said "service": "kiosk".
        self._upstream_says_kiosk = False
        self._stop_round = False
        self._last_ok = -1e18
        self._counted_at = -1e18

    # ------------------------------------------------------------------ public

    async def start(self) -> None:
        """Open the HTTP session, load the kiosk id and token, start the task. Idempotent."""
        if not self.enabled or self._task is not None:
            return
        self._session = aiohttp.ClientSession()
        extra = ({self.config.upstream_auth_header: self.config.upstream_auth_value or ""}
                 if self.config.upstream_auth_header else None)
        self.client = UpstreamClient(self.base, self._session, timeout=self.config.sync_timeout,
                                     extra_headers=extra)
        self.tokens = TokenCache(self.client, self.db, self.base,
                                 fixed=self.config.upstream_token, clock=self.clock)
        self._upstreams = {u.kind: u for u in (JupyterEverywhere(self.client, self.tokens),
                                                KioskHub(self.client, self.tokens))}
        await self.tokens.load()
        await self.refresh_counts()
        self._task = asyncio.create_task(self._run(), name="kiosk-sync")
        _LOGGER.info("sync: forwarding shares to %s (%d queued)", self._status.upstream,
                     self._status.queued)

    async def stop(self) -> None:
        """Cancel the task (and its sends) and close the session. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def wake(self) -> None:
        """Start a round soon (a local write happened)."""
        if self.enabled:
            self._wake.set()

    def sync_now(self) -> None:
        """The teacher's "sync now": forget every backoff and start a round now."""
        if self.enabled:
            self._reset_requested = True
            self._status.last_probe_at = None
            self._last_ok = -1e18
            self._wake.set()

    def status(self) -> SyncStatus:
        """The latest snapshot (counts are refreshed after each send and round)."""
        self._status.in_flight = len(self._in_flight)
        self._status.kind = self.kind
        # Before the first upload too: an upstream not known to be a kiosk may be JE.
        self._status.privacy_notice = (JE_PRIVACY_NOTICE if self.enabled and self.kind != "kiosk"
                                       else None)
        site = self.site_of(self.base, self.kind) if self.base else None
        self._status.take_home_site = site
        self._status.site_notice = (site_notice(self.base) if self.enabled and site is None
                                    and self.kind == "je" else None)
        return self._status

    async def refusals(self, share_ids: Sequence[str]) -> dict[str, str]:
        """Why the upstream refused these shares for good (those it refused), in one read."""
        ids = list(share_ids)
        if not ids:
            return {}
        return await self.db.execute_fn(lambda c: outbox.refusals(c, ids))

    async def refresh_counts(self) -> OutboxCounts:
        counts = await self.db.execute_fn(outbox.counts)
        s = self._status
        s.queued, s.due, s.failing = counts.queued, counts.due, counts.failing
        s.oldest_queued_at, s.synced = counts.oldest_enqueued_at, counts.synced
        s.possible_duplicates, s.refused = counts.possible_duplicates, counts.refused
        return counts

    async def upstream_link(self, share_id: str) -> UpstreamLink | None:
        """Where a local share lives upstream (None before its first successful POST)."""
        link = await self.db.execute_fn(lambda c: outbox.get_link(c, share_id))
        return link if link is not None and link.upstream_id is not None else None

    async def is_queued(self, share_id: str) -> bool:
        """Whether the share waits to go upstream (shares from before sync are not)."""
        return await self.db.execute_fn(lambda c: outbox.is_queued(c, share_id))

    async def upstream_refs(self, share_ids: Sequence[str]) -> dict[str, UpstreamRef]:
        """Where these shares live upstream (those that arrived), in one read.

        Read whether or not sync is on now: a link made before sync was turned off
        still leads to the copy the student took home.
        """
        ids = list(share_ids)
        if not ids:
            return {}
        refs = await self.db.execute_fn(lambda c: outbox.upstream_refs(c, ids))
        return {k: dataclasses.replace(r, site=self.site_of(r.upstream, r.kind))
                for k, r in refs.items()}

    def site_of(self, upstream: str, kind: str | None) -> str | None:
        """The public site take-home links of copies on ``upstream`` (an API base) open.

        ``upstream_site_url`` applies to the configured upstream; otherwise the rules of
        :func:`kiosk.sync.site.take_home_site` (JE's own site for the public service, a
        hub's own origin, None for a self-hosted JE: no link rather than a wrong one).
        """
        configured = self.config.upstream_site_url if upstream == self.base else None
        return take_home_site(upstream, kind, configured)

    async def queued_among(self, share_ids: Sequence[str]) -> set[str]:
        """Which of these shares wait to go upstream, in one read (none when sync is off)."""
        ids = list(share_ids)
        if not self.enabled or not ids:
            return set()
        return await self.db.execute_fn(lambda c: outbox.queued_among(c, ids))

    async def run_round(self) -> None:
        """One round: probe, then drain what is due. Public for tests and benchmarks."""
        if self.client is None:
            raise KioskError("the sync worker is not started")
        async with self._round_lock:  # one round at a time: a notebook is never sent twice
            if self._reset_requested:
                self._reset_requested = False
                await self.db.execute_write_fn(outbox.reset_backoff)
            else:
                await self._forget_future_backoff()
            self._status.last_round_at = time.time()
            if await self._probe():
                await self._keep_session_alive()
                await self._drain()
            await self.refresh_counts()

    async def pull(self, ref: str) -> Share | None:
        """An upstream notebook opened on the kiosk: fetched when online, else cached."""
        if not self.enabled or self.client is None:
            return None
        cached = await self.db.execute_fn(lambda c: outbox.get_pulled(c, ref))
        if self._status.reachable is not False or cached is None:
            try:
                fetched = await self.client.fetch(await self._session_bearer(), ref)
            except UpstreamError as exc:
                _LOGGER.info("sync: cannot fetch %r from the upstream: %s", ref, exc)
            else:
                if fetched is not None:
                    now = time.time()
                    await self.db.execute_write_fn(lambda c: outbox.cache_pulled(
                        c, ref, fetched.id, readable_id=fetched.readable_id,
                        content=fetched.content, now=now))
                    return _pulled_share(fetched.id, fetched.readable_id, fetched.content)
        if cached is None:
            return None
        return _pulled_share(*cached)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _LOGGER.exception("sync round failed; will retry")
                self._error(f"sync round failed: {type(exc).__name__}")
            delay = self.config.sync_interval
            if self._status.reachable:
                due = await self.db.execute_fn(outbox.next_due_at)
                if due is not None:
                    delay = max(0.05, min(delay, due - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _forget_future_backoff(self) -> None:
        """Make every row due if one waits longer than any backoff could ask for.

        Retry times are stored as wall-clock times (they survive restarts); a clock that
        went back (a Pi rebooting without a battery clock) would otherwise hold them for
        years. Within a run, delays are measured by ``asyncio`` (monotonic).
        """
        latest = await self.db.execute_fn(outbox.latest_attempt_at)
        if latest is not None and latest - time.time() > self.config.sync_backoff_max + 60:
            reset = await self.db.execute_write_fn(outbox.reset_backoff)
            _LOGGER.warning("sync: %d retries were scheduled after %s, beyond the longest "
                            "backoff: the clock went back; retrying now", reset,
                            time.strftime("%Y-%m-%d", time.gmtime(latest)))

    async def _probe(self) -> bool:
        assert self.client is not None
        if self._status.reachable and time.monotonic() - self._last_ok < PROBE_FRESH_SECONDS:
            return True
        was = self._status.reachable
        self._status.last_probe_at = time.time()
        try:
            answer = await self.client.health()
        except UpstreamError as exc:
            if was is not False:
                _LOGGER.info("sync: upstream %s not reachable: %s", self._status.upstream, exc)
            self._status.reachable = False
            self._error(f"upstream not reachable: {exc}")
            return False
        self._upstream_says_kiosk = answer.get("service") == "kiosk"
        if self.kind is None:
            self.kind = "kiosk" if self._upstream_says_kiosk else "je"
            _LOGGER.info("sync: the upstream is a %s", "kiosk" if self.kind == "kiosk"
                         else "Jupyter Everywhere service")
        self._status.reachable = True
        self._last_ok = time.monotonic()
        if not was:
            # Rows failed while the line was down: send them now, not after their backoff
            # (rows failing with an error answer keep theirs).
            await self.db.execute_write_fn(outbox.reset_after_reconnect)
            _LOGGER.info("sync: upstream %s reachable", self._status.upstream)
        return True

    async def _drain(self) -> None:
        self._stop_round = False
        limit = self.config.sync_concurrency
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                if not self._stop_round and len(tasks) < limit:
                    busy = frozenset(self._in_flight)
                    items = await self.db.execute_fn(functools.partial(
                        outbox.due_items, now=time.time(), limit=limit - len(tasks),
                        exclude=busy))
                    for item in items:
                        self._in_flight.add(item.share_id)
                        tasks.add(asyncio.create_task(self._send(item.share_id),
                                                      name=f"kiosk-sync-{item.share_id[:8]}"))
                if not tasks:
                    return
                done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _send(self, share_id: str) -> None:
        """Send one notebook (create, then update to its latest version); never raises."""
        try:
            await self._sync_share(share_id)
        except UpstreamRefused as exc:
            await self._refused(share_id, exc)
        except UpstreamError as exc:
            message = str(exc)
            if isinstance(exc, UpstreamUnreachable | AnswerLost):
                # The line (or the upstream) is failing: stop taking new rows this round.
                self._stop_round = True
                self._status.reachable = False
                message = outbox.CONNECTION_ERROR + message
            await self._failed(share_id, message, kind=getattr(exc, "kind", None))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _LOGGER.exception("sync: sending share %s failed", share_id)
            await self._failed(share_id, f"internal error: {type(exc).__name__}")
        else:
            self._status.sent += 1
            self._status.last_success_at = time.time()
            self._last_ok = time.monotonic()
            if self._last_ok - self._counted_at > COUNTS_EVERY_SECONDS:
                # Keep the status's queue length moving during a long drain.
                self._counted_at = self._last_ok
                await self.refresh_counts()
        finally:
            self._in_flight.discard(share_id)

    async def _failed(self, share_id: str, message: str, *, kind: str | None = None) -> None:
        self._status.retries += 1
        self._error(message)
        # The attempt count is read inside the write, so the delay is computed there too.
        cfg, rng, now = self.config, self._rng, time.time()

        def work(conn: sqlite3.Connection) -> int:
            attempts = outbox.attempts_of(conn, share_id)
            if attempts is None:
                return 0
            delay = outbox.backoff_delay(attempts + 1, cfg.sync_backoff_base,
                                         cfg.sync_backoff_max, rng)
            return outbox.fail_item(conn, share_id, message, delay, now, kind=kind)

        attempts = await self.db.execute_write_fn(work)
        _LOGGER.log(_failure_log_level(attempts), "sync: share %s not sent (attempt %d): %s",
                    share_id, attempts, message)

    async def _refused(self, share_id: str, exc: UpstreamRefused) -> None:
        """Park a share the upstream refused for good (until it changes or "sync now")."""
        self._error(str(exc))
        first = await self.db.execute_write_fn(
            lambda c: outbox.refuse(c, share_id, exc.reason, str(exc)))
        if first:
            _LOGGER.warning("sync: share %s refused by the upstream for good (%s): %s; not "
                            "retried until it changes or the teacher asks", share_id, exc,
                            exc.reason)

    def _error(self, message: str) -> None:
        self._status.last_error = message
        self._status.last_error_at = time.time()

    # ------------------------------------------------------------ one notebook

    def _upstream(self, kind: str | None) -> Upstream:
        """The protocol for ``kind`` (a link's, or the upstream's; JE when unknown)."""
        return self._upstreams.get(kind or "je") or self._upstreams["je"]

    async def _sync_share(self, share_id: str) -> None:
        unit = await self.db.execute_fn(lambda c: outbox.load_unit(c, share_id))
        if unit is None:
            return
        if unit.version == 0:  # the share was deleted meanwhile: nothing to send
            await self.db.execute_write_fn(lambda c: outbox.drop_item(c, share_id))
            return
        link = unit.link
        if link is not None and (link.upstream != self.base or (
                self.kind is not None and link.kind != self.kind and not link.password)):
            # The teacher pointed the kiosk at another upstream (or what answers there is
            # now another kind, and this link has no password to prove it is ours):
            # start afresh there.
            await self.db.execute_write_fn(lambda c: outbox.delete_link(c, share_id))
            link = None
        author = unit.student_name if self.config.sync_student_names else None
        content = await asyncio.to_thread(upstream_content, unit.content, author)
        if content is not unit.content:
            unit = dataclasses.replace(unit, content=content)
        if link is None or link.upstream_id is None:
            link = await self._create(unit, link)
        if unit.version > link.synced_version:
            await self._update(unit, link)
        version = unit.version
        await self.db.execute_write_fn(lambda c: outbox.finish_item(c, share_id, version))

    async def _create(self, unit: WorkUnit, link: UpstreamLink | None) -> UpstreamLink:
        share_id = unit.item.share_id
        upstream = self._upstream(self.kind)
        kind = upstream.kind
        if link is not None and link.pending_key is not None and link.pending_body is not None:
            # A POST was sent before and its answer never seen: repeat it exactly.
            key, body, version = link.pending_key, link.pending_body, link.pending_version or 1
            password = _password_of(body)
            if not upstream.replays_posts:
                note = (f"POST attempt {link.post_attempts} of version {version} got no "
                        "answer; the JE service may hold an extra copy")
                await self.db.execute_write_fn(
                    lambda c: outbox.note_possible_duplicate(c, share_id, note))
                _LOGGER.warning("sync: share %s: %s", share_id, note)
        else:
            password = upstream.post_password(link, says_kiosk=self._upstream_says_kiosk)
            version = unit.version
            key = f"{self._kiosk_id}:{share_id}:{version}:post"
            body = post_body(unit.content, password)
        prepared = await self.db.execute_write_fn(lambda c: outbox.prepare_post(
            c, share_id, upstream=self.base, kind=kind, password=password, key=key,
            version=version, body=body))
        try:
            saved = await upstream.post(body, key, item=unit.item)
        except (PostRefused, Repeating):
            # Clearly refused, or a 500 twice: JE creates a notebook in one transaction
            # (a 500 rolled it back), a hub replays the key. Not a possible duplicate.
            await self.db.execute_write_fn(lambda c: outbox.clear_pending(c, share_id))
            raise
        now = time.time()
        await self.db.execute_write_fn(lambda c: outbox.record_created(
            c, share_id, upstream_id=saved.id, readable_id=saved.readable_id, version=version,
            now=now))
        _LOGGER.info("sync: share %s created upstream as %s", share_id, saved.readable_id)
        return UpstreamLink(share_id, self.base, kind, saved.id, saved.readable_id,
                            prepared.password, version, now, prepared.post_attempts, None,
                            None, None, prepared.possible_duplicates, prepared.duplicate_note)

    async def _update(self, unit: WorkUnit, link: UpstreamLink) -> None:
        share_id = unit.item.share_id
        key = f"{self._kiosk_id}:{share_id}:{unit.version}:put"
        try:
            saved = await self._upstream(link.kind).put(unit, link, key)
        except UpstreamGone as exc:
            await self.db.execute_write_fn(lambda c: outbox.forget_upstream(c, share_id))
            # Once per copy: the next attempt creates a new one (a new take-home link).
            _LOGGER.warning("sync: share %s: %s (the old upstream copy %s keeps version %d)",
                            share_id, exc, link.upstream_readable_id or link.upstream_id,
                            link.synced_version)
            raise
        now, version = time.time(), unit.version
        await self.db.execute_write_fn(lambda c: outbox.record_updated(
            c, share_id, version=version, readable_id=saved.readable_id, now=now))

    # ------------------------------------------------------------------ tokens

    @property
    def _kiosk_id(self) -> str:
        assert self.tokens is not None
        return self.tokens.kiosk_id

    async def _session_bearer(self) -> str:
        assert self.tokens is not None
        return await self.tokens.session_bearer(
            hold_through_errors=self._upstream(self.kind).session_held_through_errors())

    async def _keep_session_alive(self) -> None:
        """Refresh the stored session token when due, even with nothing to send.

        Called each round the upstream answers: a hub's session owns every notebook
        this kiosk created there without a password, so it is renewed well before the
        hub's token lifetime (``token_days``) runs out; only an absence longer than
        that loses it. A failure here is left for the next round.
        """
        assert self.tokens is not None
        error = await self.tokens.keep_alive(
            hold_through_errors=self._upstream(self.kind).session_held_through_errors())
        if error is not None:
            _LOGGER.info("sync: could not refresh the upstream session yet: %s", error)


def _failure_log_level(attempts: int) -> int:
    """How loudly the ``attempts``-th failure of one share is logged.

    Not once per attempt (a share failing for a day would fill the journal): the first
    failure at INFO, a warning when the share is stuck (``STUCK_ATTEMPTS``) and then at
    every power of two, DEBUG otherwise.
    """
    if attempts == 1:
        return logging.INFO
    if attempts == STUCK_ATTEMPTS or (attempts > STUCK_ATTEMPTS
                                      and attempts & (attempts - 1) == 0):
        return logging.WARNING
    return logging.DEBUG


def _password_of(body: str) -> str:
    data = json.loads(body)
    password = data.get("password") if isinstance(data, dict) else None
    return password if isinstance(password, str) else ""


def _pulled_share(upstream_id: str, readable_id: str | None, content: str) -> Share:
    """A cached upstream notebook in the shape the sharing API answers with."""
    return Share(upstream_id, readable_id or upstream_id, None, 0, len(content.encode()), 0.0,
                 0.0, "", None, content)
