"""The kiosk's one SQLite engine: a group-commit writer, a checkpointer, a read pool.

A :class:`Database` owns one file (the data directory's ``shares.sqlite3``). Each
capability that keeps tables in it brings a :class:`Schema` (its own migrations) and
its own queries, written as plain functions of a ``sqlite3.Connection``, which it
runs through the two doors, named as in Datasette:

* :meth:`Database.execute_write_fn` runs ``fn(conn)`` on the one thread that owns the
  only writing connection, so writes never contend for SQLite's lock. Writes that
  queue up while a commit is being fsynced are committed together (group commit):
  each runs in its own SAVEPOINT inside one ``BEGIN IMMEDIATE`` transaction, so one
  failing write rolls back alone, and every caller is answered only after the COMMIT.
  ``synchronous=FULL`` in WAL mode fsyncs the log at every commit: a write that was
  answered survives the Pi being unplugged. ``on_commit`` runs on the event loop
  once the write is committed, even when the caller was cancelled meanwhile.
* :meth:`Database.execute_fn` runs ``fn(conn)`` on a small pool of read-only
  connections, inside one snapshot (WAL lets reads proceed while a write is in flight).

Checkpoints (copying the WAL into the database) run PASSIVE on their own thread once
writing pauses, so a burst of saves is not slowed by them; the WAL file is cut back to
``WAL_SIZE_LIMIT`` when it restarts, and folded in on close. Foreign keys are on; every
connection has a busy timeout (other processes, such as ``kiosk shares``, may open the
same file). Every method is safe to call from the event loop; ``start()``/``close()``
are idempotent.

Schema versions: each capability's migrations are numbered on their own and recorded
in the ``schema_versions`` table. Before that table existed (``PRAGMA user_version``
below ``SCHEMA_FORMAT``), ``user_version`` counted migrations across capabilities in
the order of ``LEGACY_ORDER``; such a file is converted on first open, rows untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kiosk.durable import make_dirs
from kiosk.errors import KioskError, StartupError

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
CHECKPOINT_INTERVAL = 1.0
EMERGENCY_CHECKPOINT_PAGES = 65536  # 256 MiB of 4 KiB pages
WAL_SIZE_LIMIT = 64 * 1024 * 1024

# `PRAGMA user_version` of a file whose versions live in `schema_versions`.
SCHEMA_FORMAT = 3
# What `user_version` 1 and 2 meant before: (owner, its migration number), in order.
LEGACY_ORDER: tuple[tuple[str, int], ...] = (("sharing", 1), ("sync", 1))


@dataclass(frozen=True, slots=True)
class Schema:
    """One capability's tables: its migrations, oldest first.

    Migration N (1-based) is a tuple of statements run in one transaction, after
    which ``schema_versions`` holds N for ``owner``. Append only: never edit or
    reorder a shipped migration (data directories already ran it).
    """

    owner: str
    migrations: tuple[tuple[str, ...], ...]


@dataclass(slots=True)
class DatabaseStats:
    """Counters for tests and benchmarks: calls through each door, and commits."""

    reads: int = 0
    writes: int = 0
    commits: int = 0
    committed_writes: int = 0


@dataclass(slots=True)
class _Job:
    fn: Callable[[], Any]
    transaction: bool
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    on_commit: Callable[[], None] | None = None


def _resolve(job: _Job, result: Any, exc: BaseException | None) -> None:
    if exc is None and job.on_commit is not None:
        # Before the future: a caller cancelled after its write committed still
        # gets its notification sent.
        try:
            job.on_commit()
        except Exception:
            _LOGGER.exception("a database commit hook failed")
    if job.future.done():  # the caller was cancelled; the write happened (or not) anyway
        return
    if exc is not None:
        job.future.set_exception(exc)
    else:
        job.future.set_result(result)


class _GroupCommitWriter:
    """One thread owning the writing connection; writes queued together share a commit."""

    def __init__(self, name: str, stats: DatabaseStats, *, max_batch: int = 64) -> None:
        self.conn: sqlite3.Connection | None = None
        self.max_batch = max_batch
        self.stats = stats
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def submit(self, fn: Callable[[], T], *, transaction: bool,
                     on_commit: Callable[[], None] | None = None) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, transaction, future, loop, on_commit))
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
            job.loop.call_soon_threadsafe(_resolve, job, result, exc)

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
                self._answer(job, None, KioskError("the database is not open"))
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
            _LOGGER.error("database commit failed: %s", exc)
            outcomes = [(job, None, exc) for job in jobs]
        else:
            self.stats.commits += 1
            self.stats.committed_writes += len(jobs)
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


class Database:
    """One SQLite file; see the module docstring for the threading model.

    ``schemas`` are migrated at :meth:`start`, in the order given; a capability
    that shares a file opened elsewhere adds its own with :meth:`add_schema` before
    that. ``name`` prefixes the threads' names (``<name>-writer`` ...); like every
    thread of the kiosk's, it starts with ``kiosk-``.
    """

    def __init__(self, path: Path, schemas: Sequence[Schema] = (), *, name: str = "kiosk-db",
                 read_threads: int = 2) -> None:
        self.path = path
        self.name = name
        self.stats = DatabaseStats()
        self._schemas: list[Schema] = list(schemas)
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

    def add_schema(self, schema: Schema) -> None:
        """Have ``schema`` migrated at start (once per owner; before :meth:`start`)."""
        if self._started:
            raise KioskError(f"schema {schema.owner!r} added after the database started")
        if all(s.owner != schema.owner for s in self._schemas):
            self._schemas.append(schema)

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return tuple(self._schemas)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the file (creating and migrating it as needed). Idempotent."""
        if self._started:
            return
        if self._closed:
            raise RuntimeError("a closed Database cannot be started again")
        self._writer = _GroupCommitWriter(f"{self.name}-writer", self.stats)
        self._readers = ThreadPoolExecutor(self._read_threads,
                                           thread_name_prefix=f"{self.name}-reader")
        self._started = True
        try:
            await self._writer.submit(self._open_writer, transaction=False)
            stats = self.stats
            self._checkpointer = _Checkpointer(self.path, lambda: stats.committed_writes,
                                               f"{self.name}-checkpointer")
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

    # -------------------------------------------------------------------- doors

    async def execute_write_fn(self, fn: Callable[[sqlite3.Connection], T], *,
                               transaction: bool = True,
                               on_commit: Callable[[], None] | None = None) -> T:
        """Run ``fn(conn)`` on the writer thread; inside a (group) transaction by default.

        ``on_commit`` is called on the event loop after the commit (not on failure),
        also when the awaiting caller was cancelled in the meantime.
        """
        self._require_started()
        assert self._writer is not None
        self.stats.writes += 1

        def run() -> T:
            conn = self._write_conn
            if conn is None:
                raise KioskError("the database is not open")
            return fn(conn)

        return await self._writer.submit(run, transaction=transaction, on_commit=on_commit)

    async def execute_fn(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on a read-only connection, in one snapshot."""
        self._require_started()
        assert self._readers is not None
        self.stats.reads += 1

        def run() -> T:
            conn = self._reader_conn()
            # One snapshot per call; reads never hold the snapshot between calls.
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    # ------------------------------------------------------------------ private

    def _require_started(self) -> None:
        if not self._started or self._closed:
            raise KioskError("the database is not running")

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
        make_dirs(self.path.parent)  # synced into its parent: a power cut keeps it
        # Students' work: readable by the kiosk's user only. SQLite gives its -wal and
        # -shm files the database file's mode, so creating it 0600 covers all three.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            conn = self._connect(readonly=False)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StartupError(f"cannot open the database {self.path}: {exc}") from None
        if str(mode).lower() != "wal":
            conn.close()
            raise StartupError(f"the database {self.path} cannot use WAL mode "
                               f"(got {mode!r}); is it on a network file system?")
        conn.execute("PRAGMA synchronous = FULL")
        # Checkpoints (copying the WAL into the database, with their own fsyncs) run on
        # the checkpointer thread, off the commit path, so a burst of shares is not
        # stalled by one; the writer only checkpoints itself if the WAL gets very big.
        conn.execute(f"PRAGMA wal_autocheckpoint = {EMERGENCY_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        try:
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._write_conn = conn
        assert self._writer is not None
        self._writer.conn = conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        self._convert_legacy(conn)
        versions = {}
        # Every capability is checked before any migrates: a file from a newer kiosk is
        # refused untouched.
        for schema in self._schemas:
            row = conn.execute("SELECT version FROM schema_versions WHERE owner = ?",
                               (schema.owner,)).fetchone()
            current = 0 if row is None else int(row[0])
            known = len(schema.migrations)
            if current > known:
                raise StartupError(
                    f"the database {self.path} has {schema.owner} schema version {current}, "
                    f"newer than this kiosk knows ({known}); upgrade the kiosk")
            versions[schema.owner] = current
        for schema in self._schemas:
            current, known = versions[schema.owner], len(schema.migrations)
            for number in range(current + 1, known + 1):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in schema.migrations[number - 1]:
                        conn.execute(statement)
                    conn.execute("INSERT OR REPLACE INTO schema_versions (owner, version) "
                                 "VALUES (?, ?)", (schema.owner, number))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                _LOGGER.info("database %s: %s schema migrated to version %d", self.path,
                             schema.owner, number)

    def _convert_legacy(self, conn: sqlite3.Connection) -> None:
        """Bring a file from before ``schema_versions`` (or a new one) to that format."""
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version == SCHEMA_FORMAT:
            return
        if version > SCHEMA_FORMAT or version > len(LEGACY_ORDER):
            raise StartupError(
                f"the database {self.path} has schema version {version}, newer than this "
                f"kiosk knows ({SCHEMA_FORMAT}); upgrade the kiosk")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE schema_versions (owner TEXT PRIMARY KEY, "
                         "version INTEGER NOT NULL)")
            for owner, number in LEGACY_ORDER[:version]:
                conn.execute("INSERT OR REPLACE INTO schema_versions (owner, version) "
                             "VALUES (?, ?)", (owner, number))
            conn.execute(f"PRAGMA user_version = {SCHEMA_FORMAT}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if version:
            _LOGGER.info("database %s: schema versions now kept per capability", self.path)

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
            with self._read_conns_lock:
                self._read_conns.append(conn)
        return conn

