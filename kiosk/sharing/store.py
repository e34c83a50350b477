"""The share store: every SQLite call of the sharing feature.

One :class:`ShareStore` owns the database file ``<data_dir>/shares.sqlite3``:

* **Writes** run on one dedicated thread that owns the only writing connection
  (datasette's writer idea), so writes never contend for SQLite's lock. Writes
  that queue up while a commit is being fsynced are committed together (group
  commit): each runs in its own SAVEPOINT inside one ``BEGIN IMMEDIATE``
  transaction, so one failing write rolls back alone, and every caller is answered
  only after the COMMIT. ``synchronous=FULL`` in WAL mode fsyncs the log at every
  commit: a share that was answered survives the Pi being unplugged.
* **Reads** run on a small pool of read-only connections (WAL lets them proceed
  while a write is in flight).
* **Checkpoints** (copying the WAL into the database) run PASSIVE on their own
  thread once writing pauses, so a burst of saves is not slowed by them; the WAL
  file is cut back to ``WAL_SIZE_LIMIT`` when it restarts, and folded in on close.
* The schema is migrated by ``PRAGMA user_version``; foreign keys are on; every
  connection has a busy timeout (other processes, such as ``kiosk shares``, may
  open the same file).

The notebook JSON is stored as the exact text the client sent. Every method is
async and safe to call from the event loop; ``start()``/``close()`` are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kiosk.errors import Conflict, Forbidden, KioskError, NotFound, StartupError
from kiosk.sharing import ids

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

DB_FILE = "shares.sqlite3"
BUSY_TIMEOUT_MS = 5000
_READABLE_ID_ATTEMPTS = 20
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
CHECKPOINT_INTERVAL = 1.0
EMERGENCY_CHECKPOINT_PAGES = 65536  # 256 MiB of 4 KiB pages
WAL_SIZE_LIMIT = 64 * 1024 * 1024

# Each migration is a list of statements run in one transaction; migration N
# (1-based) leaves PRAGMA user_version = N. Append only: never edit a shipped one.
MIGRATIONS: list[list[str]] = [
    [
        # `content` is the last column so that listing (which never selects it)
        # does not read a large notebook's overflow pages.
        """CREATE TABLE shares (
            id TEXT PRIMARY KEY,
            readable_id TEXT NOT NULL UNIQUE,
            version INTEGER NOT NULL DEFAULT 1,
            owner_session TEXT NOT NULL,
            password_hash TEXT,
            name TEXT,
            size INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            content TEXT NOT NULL
        )""",
        "CREATE INDEX shares_updated_at ON shares(updated_at)",
        # Exactly-once POST/PUT (the Idempotency-Key header): the first answer to a
        # key is kept for 24 h and replayed. Keys are scoped by the token's session.
        """CREATE TABLE idempotency_keys (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            share_id TEXT NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
            status INTEGER NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (scope, key)
        )""",
        "CREATE INDEX idempotency_created_at ON idempotency_keys(created_at)",
    ],
    [
        # Sync (kiosk.sync): one outbox row per notebook waiting to go upstream. Updates
        # coalesce into the row (only the latest content matters), and since a row is
        # the whole notebook, its creation upstream always precedes its updates.
        # `version` is the share's version when last enqueued; retry state survives
        # restarts. No foreign key: a deleted share's row is removed with it.
        """CREATE TABLE outbox (
            share_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            enqueued_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_error TEXT
        )""",
        "CREATE INDEX outbox_due ON outbox(next_attempt_at, enqueued_at)",
        # Local share -> its copy upstream. `password` is the random per-notebook
        # password the kiosk created it with (JE lets only its creator's session, or a
        # token issued with that password, update it). `pending_*` describe a POST
        # whose answer has not been seen yet: the exact body and Idempotency-Key are
        # kept so a retry is the same request (a kiosk upstream replays it).
        """CREATE TABLE upstream_links (
            share_id TEXT PRIMARY KEY REFERENCES shares(id) ON DELETE CASCADE,
            upstream TEXT NOT NULL,
            kind TEXT NOT NULL,
            upstream_id TEXT,
            upstream_readable_id TEXT,
            password TEXT NOT NULL,
            synced_version INTEGER NOT NULL DEFAULT 0,
            synced_at REAL,
            post_attempts INTEGER NOT NULL DEFAULT 0,
            pending_key TEXT,
            pending_version INTEGER,
            pending_body TEXT,
            possible_duplicates INTEGER NOT NULL DEFAULT 0,
            duplicate_note TEXT
        )""",
        # Upstream notebooks opened on the kiosk (pull-through), served offline.
        """CREATE TABLE pulled (
            ref TEXT PRIMARY KEY,
            upstream_id TEXT NOT NULL,
            readable_id TEXT,
            content TEXT NOT NULL,
            fetched_at REAL NOT NULL
        )""",
        # Small durable facts of the sync worker (the upstream session token, ...).
        """CREATE TABLE sync_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
    ],
]


@dataclass(frozen=True, slots=True)
class ShareSummary:
    """A share without its content: what the teacher's list shows."""

    id: str
    readable_id: str
    name: str | None
    version: int
    size: int
    created_at: float
    updated_at: float
    has_password: bool


@dataclass(frozen=True, slots=True)
class Share:
    """One shared notebook, ``content`` being the JSON text exactly as sent."""

    id: str
    readable_id: str
    name: str | None
    version: int
    size: int
    created_at: float
    updated_at: float
    owner_session: str
    password_hash: str | None
    content: str


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """An ``Idempotency-Key`` header, scoped by session, with a hash of the request."""

    scope: str
    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    """A share written (or, for a repeated idempotency key, the one written before)."""

    share: Share
    status: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class UpstreamRef:
    """A share's copy on the upstream (filled in by kiosk.sync)."""

    upstream: str
    upstream_id: str
    upstream_readable_id: str | None
    synced_version: int


@dataclass(frozen=True, slots=True)
class UpdateGrant:
    """Who is updating: the token's session, and the notebook its password unlocked."""

    session_id: str
    notebook_id: str | None = None


# Queries interpolate only these constants (and a fixed WHERE clause), never input:
# hence the `noqa: S608` marks below.
_SHARE_COLUMNS = ("id, readable_id, name, version, size, created_at, updated_at, "
                  "owner_session, password_hash, content")
_SUMMARY_COLUMNS = ("id, readable_id, name, version, size, created_at, updated_at, "
                    "password_hash IS NOT NULL")


def _share(row: Any) -> Share:
    return Share(*row)


def _summary(row: Any) -> ShareSummary:
    return ShareSummary(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]))


def _like(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _record_change(conn: sqlite3.Connection, share_id: str, op: str, *,
                   outbox: bool = False, version: int = 0) -> None:
    """Hook called inside every share write's transaction: queue it for the upstream.

    With ``outbox`` (sync configured), a ``create``/``update`` upserts the notebook's
    one outbox row with its new ``version``, in the same transaction as the write, so
    a committed share is always queued. Updates coalesce: the row keeps its place in
    line and its retry state. A ``delete`` drops the row (the sharing API has no
    delete, so nothing goes upstream). Without ``outbox`` nothing is recorded: no
    student data leaves the kiosk until the teacher turns sync on.
    """
    if op == "delete":
        conn.execute("DELETE FROM outbox WHERE share_id = ?", (share_id,))
        return
    if not outbox:
        return
    conn.execute(
        "INSERT INTO outbox (share_id, version, enqueued_at) VALUES (?, ?, ?) "
        "ON CONFLICT(share_id) DO UPDATE SET version = max(version, excluded.version)",
        (share_id, version, time.time()))


@dataclass(slots=True)
class _Job:
    fn: Callable[[], Any]
    transaction: bool
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _resolve(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the write happened (or not) anyway
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class _GroupCommitWriter:
    """One thread owning the writing connection; writes queued together share a commit."""

    def __init__(self, name: str, *, max_batch: int = 64) -> None:
        self.conn: sqlite3.Connection | None = None
        self.max_batch = max_batch
        self.commits = 0
        self.writes = 0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def submit(self, fn: Callable[[], T], *, transaction: bool) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, transaction, future, loop))
        return await future

    async def stop(self) -> None:
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            start = 0
            while start < len(batch):
                end = start
                while end < len(batch) and batch[end].transaction:
                    end += 1
                if end == start:  # a job that manages its own transaction (or none)
                    self._run_plain(batch[start])
                    start += 1
                else:
                    self._run_group(batch[start:end])
                    start = end

    @staticmethod
    def _answer(job: _Job, result: Any, exc: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            job.loop.call_soon_threadsafe(_resolve, job.future, result, exc)

    def _run_plain(self, job: _Job) -> None:
        try:
            result = job.fn()
        except BaseException as exc:
            self._answer(job, None, exc)
        else:
            self._answer(job, result, None)

    def _run_group(self, jobs: list[_Job]) -> None:
        conn = self.conn
        if conn is None:
            for job in jobs:
                self._answer(job, None, KioskError("the share store is not open"))
            return
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                conn.execute("SAVEPOINT job")
                try:
                    result = job.fn()
                except BaseException as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((job, None, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((job, result, None))
            conn.execute("COMMIT")
        except BaseException as exc:
            # Nothing of this group was committed: every write in it failed.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            _LOGGER.error("share store commit failed: %s", exc)
            outcomes = [(job, None, exc) for job in jobs]
        else:
            self.commits += 1
            self.writes += len(jobs)
        for job, result, error in outcomes:
            self._answer(job, result, error)


class _Checkpointer:
    """A thread that checkpoints the WAL (PASSIVE) once writing has paused.

    Checkpointing during a burst of shares would compete with the commits for the
    disk, so it waits for an interval without writes (a classroom's saves come in
    bursts); a WAL that grows huge is checkpointed by the writer itself
    (``EMERGENCY_CHECKPOINT_PAGES``). PASSIVE never blocks the writer or the readers.
    """

    def __init__(self, path: Path, writes: Callable[[], int], name: str) -> None:
        self._path = path
        self._writes = writes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.checkpoints = 0
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            seen = self._writes()
            dirty = False
            while not self._stop.wait(CHECKPOINT_INTERVAL):
                now = self._writes()
                if now != seen:  # still writing: wait for a quiet interval
                    seen, dirty = now, True
                    continue
                if not dirty:
                    continue
                dirty = False
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:
                    _LOGGER.warning("WAL checkpoint failed (will retry): %s", exc)
        finally:
            conn.close()

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join)


class ShareStore:
    """The SQLite share store; see the module docstring for the threading model."""

    def __init__(self, path: Path, *, read_threads: int = 2, outbox: bool = False) -> None:
        self.path = path
        # Queue every create/update for the upstream (sync configured); see _record_change.
        self.outbox = outbox
        # Called on the loop after each committed create/update (the sync worker's wake).
        self.change_listeners: list[Callable[[], None]] = []
        self._read_threads = read_threads
        self._writer: _GroupCommitWriter | None = None
        self._checkpointer: _Checkpointer | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._write_conn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_conns_lock = threading.Lock()
        self._started = False
        self._closed = False

    @classmethod
    def in_data_dir(cls, data_dir: Path, *, outbox: bool = False) -> ShareStore:
        """The store at its usual place in the data directory."""
        return cls(data_dir / DB_FILE, outbox=outbox)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the database (creating and migrating it as needed). Idempotent."""
        if self._started:
            return
        if self._closed:
            raise RuntimeError("a closed ShareStore cannot be started again")
        self._writer = _GroupCommitWriter("share-store-writer")
        self._readers = ThreadPoolExecutor(self._read_threads,
                                           thread_name_prefix="share-store-reader")
        self._started = True
        try:
            await self._writer.submit(self._open_writer, transaction=False)
            writer = self._writer
            self._checkpointer = _Checkpointer(self.path, lambda: writer.writes,
                                               "share-store-checkpointer")
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close every connection and stop the threads. Idempotent."""
        if self._closed:
            return
        self._closed = True
        writer, readers = self._writer, self._readers
        if self._checkpointer is not None:
            await self._checkpointer.stop()
        if writer is not None:
            if self._write_conn is not None:
                conn = self._write_conn

                def finish() -> None:
                    # Leave a compact file behind: fold the WAL in and truncate it.
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                    conn.close()

                await writer.submit(finish, transaction=False)
            await writer.stop()
        if readers is not None:
            await asyncio.to_thread(readers.shutdown, wait=True)
        with self._read_conns_lock:
            conns, self._read_conns = self._read_conns, []
        for conn in conns:
            conn.close()  # closing an idle read-only connection does no I/O worth a thread

    # ------------------------------------------------------------------- writes

    async def create(self, content: str, *, owner_session: str, name: str | None = None,
                     password_hash: str | None = None,
                     idempotency: IdempotencyKey | None = None) -> WriteResult:
        """Store a new share under a fresh UUID and readable id; answer after the commit."""
        def work(conn: sqlite3.Connection) -> WriteResult:
            if idempotency is not None:
                replay = self._replay(conn, idempotency)
                if replay is not None:
                    return replay
            now = time.time()
            share_id = str(uuid.uuid4())
            size = len(content.encode())
            for _ in range(_READABLE_ID_ATTEMPTS):
                readable = ids.new_readable_id()
                try:
                    conn.execute(
                        f"INSERT INTO shares ({_SHARE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                        (share_id, readable, name, 1, size, now, now,
                         owner_session, password_hash, content))
                    break
                except sqlite3.IntegrityError as exc:
                    if "readable_id" not in str(exc):
                        raise
                    _LOGGER.info("readable id collision on %s; drawing another", readable)
            else:  # pragma: no cover - needs ~2**30 shares
                raise Conflict("Could not find a free readable id; try again.")
            _record_change(conn, share_id, "create", outbox=self.outbox, version=1)
            if idempotency is not None:
                self._remember(conn, idempotency, share_id, 201, now)
            # Built from what was written: reading 200 KB back would only cost time.
            share = Share(share_id, readable, name, 1, size, now, now, owner_session,
                          password_hash, content)
            return WriteResult(share, 201)

        result = await self._write(work)
        self._changed()
        return result

    async def update(self, ref: str, content: str, *, grant: UpdateGrant,
                     name: str | None = None, by_readable_id: bool = False,
                     idempotency: IdempotencyKey | None = None) -> WriteResult:
        """Replace a share's content; :class:`Forbidden` unless ``grant`` owns it.

        ``ref`` is the UUID, or the readable id (normalized) when ``by_readable_id``.
        The owner stays the creating session: a password-unlocked update does not
        take the notebook away from the student who shared it.
        """
        def work(conn: sqlite3.Connection) -> WriteResult:
            if idempotency is not None:
                replay = self._replay(conn, idempotency)
                if replay is not None:
                    return replay
            column = "readable_id" if by_readable_id else "id"
            row = conn.execute(
                "SELECT id, readable_id, name, version, created_at, owner_session, "  # noqa: S608
                f"password_hash FROM shares WHERE {column} = ?", (ref,)).fetchone()
            if row is None:
                raise NotFound(f"There is no shared notebook '{ref}'.")
            share_id, readable, _, version, created_at, owner, password_hash = row
            if grant.session_id != owner and grant.notebook_id != share_id:
                raise Forbidden("This notebook belongs to another session; share a copy "
                                "instead, or get a token with its password.")
            now = time.time()
            size = len(content.encode())
            conn.execute(
                "UPDATE shares SET content = ?, size = ?, name = ?, version = version + 1, "
                "updated_at = ? WHERE id = ?",
                (content, size, name, now, share_id))
            _record_change(conn, share_id, "update", outbox=self.outbox,
                           version=version + 1)
            if idempotency is not None:
                self._remember(conn, idempotency, share_id, 200, now)
            share = Share(share_id, readable, name, version + 1, size, created_at, now, owner,
                          password_hash, content)
            return WriteResult(share, 200)

        result = await self._write(work)
        self._changed()
        return result

    async def delete(self, share_id: str) -> bool:
        """Delete one share (by UUID); False if there was none."""
        def work(conn: sqlite3.Connection) -> bool:
            _record_change(conn, share_id, "delete")
            return conn.execute("DELETE FROM shares WHERE id = ?", (share_id,)).rowcount > 0

        return await self._write(work)

    async def clear(self) -> int:
        """Delete every share; return how many there were."""
        def work(conn: sqlite3.Connection) -> int:
            for (share_id,) in conn.execute("SELECT id FROM shares").fetchall():
                _record_change(conn, share_id, "delete")
            return conn.execute("DELETE FROM shares").rowcount

        return await self._write(work)

    async def purge_older_than(self, cutoff: float) -> int:
        """Delete shares not updated since ``cutoff`` (a UNIX time); the retention rule."""
        def work(conn: sqlite3.Connection) -> int:
            old = conn.execute("SELECT id FROM shares WHERE updated_at < ?",
                               (cutoff,)).fetchall()
            for (share_id,) in old:
                _record_change(conn, share_id, "delete")
            return conn.execute("DELETE FROM shares WHERE updated_at < ?",
                                (cutoff,)).rowcount

        return await self._write(work)

    async def expire_idempotency_keys(self, now: float | None = None) -> int:
        """Forget idempotency keys older than 24 hours."""
        cutoff = (time.time() if now is None else now) - IDEMPOTENCY_TTL_SECONDS

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?",
                                (cutoff,)).rowcount

        return await self._write(work)

    # -------------------------------------------------------------------- reads

    async def get(self, share_id: str) -> Share | None:
        """The share with this UUID (canonical form), or None."""
        def work(conn: sqlite3.Connection) -> Share | None:
            row = conn.execute(f"SELECT {_SHARE_COLUMNS} FROM shares WHERE id = ?",  # noqa: S608
                               (share_id,)).fetchone()
            return None if row is None else _share(row)

        return await self._read(work)

    async def get_by_readable_id(self, readable_id: str) -> Share | None:
        """The share with this readable id (as typed: see :func:`ids.normalize`), or None."""
        key = ids.normalize(readable_id)

        def work(conn: sqlite3.Connection) -> Share | None:
            row = conn.execute(f"SELECT {_SHARE_COLUMNS} FROM shares WHERE readable_id = ?",  # noqa: S608
                               (key,)).fetchone()
            return None if row is None else _share(row)

        return await self._read(work)

    async def list(self, *, search: str | None = None, limit: int = 100,
                   offset: int = 0) -> list[ShareSummary]:
        """Shares, newest change first; ``search`` matches ids and names (no content)."""
        where, args = self._where(search)

        def work(conn: sqlite3.Connection) -> list[ShareSummary]:
            rows = conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM shares {where} "  # noqa: S608
                "ORDER BY updated_at DESC, id LIMIT ? OFFSET ?",
                (*args, limit, offset)).fetchall()
            return [_summary(r) for r in rows]

        return await self._read(work)

    async def count(self, *, search: str | None = None) -> int:
        """How many shares match ``search`` (all of them without one)."""
        where, args = self._where(search)

        def work(conn: sqlite3.Connection) -> int:
            return int(conn.execute(f"SELECT count(*) FROM shares {where}", args).fetchone()[0])  # noqa: S608

        return await self._read(work)

    async def count_created_since(self, since: float) -> int:
        """How many shares were created at or after ``since`` (a UNIX time): "today"."""
        def work(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT count(*) FROM shares WHERE created_at >= ?",
                               (since,)).fetchone()
            return int(row[0])

        return await self._read(work)

    async def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` when the file is sound."""
        def work(conn: sqlite3.Connection) -> str:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            return "\n".join(str(r[0]) for r in rows)

        return await self._write(work, transaction=False)

    async def upstream_of(self, share_id: str) -> UpstreamRef | None:
        """Where sync put this share upstream (None when it has not arrived there yet)."""
        def work(conn: sqlite3.Connection) -> UpstreamRef | None:
            row = conn.execute(
                "SELECT upstream, upstream_id, upstream_readable_id, synced_version "
                "FROM upstream_links WHERE share_id = ? AND upstream_id IS NOT NULL",
                (share_id,)).fetchone()
            return None if row is None else UpstreamRef(*row)

        return await self._read(work)

    async def execute_write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the writer thread inside a transaction (for kiosk.sync)."""
        return await self._write(fn)

    async def execute_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on a read-only connection, in one snapshot (for kiosk.sync)."""
        return await self._read(fn)

    # ------------------------------------------------------------------ private

    def _changed(self) -> None:
        for listener in self.change_listeners:
            try:
                listener()
            except Exception:
                _LOGGER.exception("share change listener failed")

    @staticmethod
    def _where(search: str | None) -> tuple[str, tuple[str, ...]]:
        if not search or not search.strip():
            return "", ()
        like = _like(search.strip().lower())
        return ("WHERE readable_id LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\' "
                "OR lower(name) LIKE ? ESCAPE '\\'", (like, like, like))

    @staticmethod
    def _replay(conn: sqlite3.Connection, key: IdempotencyKey) -> WriteResult | None:
        row = conn.execute(
            "SELECT request_hash, share_id, status FROM idempotency_keys "
            "WHERE scope = ? AND key = ? AND created_at >= ?",
            (key.scope, key.key, time.time() - IDEMPOTENCY_TTL_SECONDS)).fetchone()
        if row is None:
            return None
        request_hash, share_id, status = row
        if request_hash != key.request_hash:
            raise Conflict("This Idempotency-Key was already used for a different request.")
        share = conn.execute(f"SELECT {_SHARE_COLUMNS} FROM shares WHERE id = ?",  # noqa: S608
                             (share_id,)).fetchone()
        return WriteResult(_share(share), int(status), replayed=True)

    @staticmethod
    def _remember(conn: sqlite3.Connection, key: IdempotencyKey, share_id: str, status: int,
                  now: float) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO idempotency_keys "
            "(scope, key, request_hash, share_id, status, created_at) VALUES (?,?,?,?,?,?)",
            (key.scope, key.key, key.request_hash, share_id, status, now))

    def _connect(self, *, readonly: bool) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True,
                                   timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open_writer(self) -> None:
        """On the writer thread: open, configure and migrate the database."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Students' work: readable by the kiosk's user only. SQLite gives its -wal and
        # -shm files the database file's mode, so creating it 0600 covers all three.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            conn = self._connect(readonly=False)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StartupError(f"cannot open the share store {self.path}: {exc}") from None
        if str(mode).lower() != "wal":
            conn.close()
            raise StartupError(f"the share store {self.path} cannot use WAL mode "
                               f"(got {mode!r}); is it on a network file system?")
        conn.execute("PRAGMA synchronous = FULL")
        # Checkpoints (copying the WAL into the database, with their own fsyncs) run on
        # the checkpointer thread, off the commit path, so a burst of shares is not
        # stalled by one; the writer only checkpoints itself if the WAL gets very big.
        conn.execute(f"PRAGMA wal_autocheckpoint = {EMERGENCY_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        self._migrate(conn)
        self._write_conn = conn
        assert self._writer is not None
        self._writer.conn = conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if current > len(MIGRATIONS):
            raise StartupError(
                f"the share store {self.path} has schema version {current}, newer than this "
                f"kiosk knows ({len(MIGRATIONS)}); upgrade the kiosk")
        for number in range(current + 1, len(MIGRATIONS) + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            _LOGGER.info("share store %s migrated to schema version %d", self.path, number)

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
            with self._read_conns_lock:
                self._read_conns.append(conn)
        return conn

    async def _on(self, executor: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, fn)

    def _require_started(self) -> None:
        if not self._started or self._closed:
            raise KioskError("the share store is not running")

    async def _write(self, fn: Callable[[sqlite3.Connection], T], *,
                     transaction: bool = True) -> T:
        """Run ``fn(conn)`` on the writer thread; inside a (group) transaction by default."""
        self._require_started()
        assert self._writer is not None

        def run() -> T:
            conn = self._write_conn
            if conn is None:
                raise KioskError("the share store is not open")
            return fn(conn)

        return await self._writer.submit(run, transaction=transaction)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._require_started()
        assert self._readers is not None

        def run() -> T:
            conn = self._reader_conn()
            # One snapshot per call; reads never hold the snapshot between calls.
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")

        return await self._on(self._readers, run)
