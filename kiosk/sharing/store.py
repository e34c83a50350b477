"""The share store: every SQL query of the sharing capability.

:class:`ShareStore` keeps the shares in the kiosk's database (``<data_dir>/shares.sqlite3``,
a :class:`kiosk.db.Database`: one group-commit writer thread, a checkpointer, a read
pool) under the tables of :data:`kiosk.sharing.schema.SHARING_SCHEMA`. A write is
answered after its COMMIT; the notebook JSON is stored as the exact text the client
sent. Every method is async and safe to call from the event loop;
``start()``/``close()`` are idempotent.

Other capabilities keep their own tables in the same file (sync: the outbox, the
upstream links). They reach it through :attr:`ShareStore.db` and extend a share write
only through :attr:`ShareStore.write_hooks` (run inside the write's transaction) and
:attr:`ShareStore.change_listeners` (run on the loop after the commit).
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kiosk.db import Database
from kiosk.errors import Conflict, Forbidden, NotFound
from kiosk.sharing import ids
from kiosk.sharing.schema import SHARING_SCHEMA

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

DB_FILE = "shares.sqlite3"
_READABLE_ID_ATTEMPTS = 20
IDEMPOTENCY_TTL_SECONDS = 24 * 3600

WriteHook = Callable[[sqlite3.Connection, str, int], None]
"""``hook(conn, share_id, version)``, run inside a create's or update's transaction."""


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
    #: the name the student typed in the Share dialog (kiosk only), if any
    student_name: str | None = None


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
    #: the name the student typed in the Share dialog (kiosk only), if any
    student_name: str | None = None


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
class UpdateGrant:
    """Who is updating: the token's session, and the notebook its password unlocked."""

    session_id: str
    notebook_id: str | None = None


# Queries interpolate only these constants (and a fixed WHERE clause), never input:
# hence the `noqa: S608` marks below.
#: ids per ``IN (…)`` query (well under SQLite's 32,766 bound parameters)
_BATCH = 500
_SHARE_COLUMNS = ("id, readable_id, name, version, size, created_at, updated_at, "
                  "owner_session, password_hash, content, student_name")
_SUMMARY_COLUMNS = ("id, readable_id, name, version, size, created_at, updated_at, "
                    "password_hash IS NOT NULL, student_name")


def _share(row: Any) -> Share:
    return Share(*row)


def _summary(row: Any) -> ShareSummary:
    return ShareSummary(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]),
                        row[8])


def _like(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ShareStore:
    """The shares' queries on the kiosk's :class:`~kiosk.db.Database`."""

    def __init__(self, path: Path, *, read_threads: int = 2) -> None:
        self.db = Database(path, [SHARING_SCHEMA], name="kiosk-share-store",
                           read_threads=read_threads)
        # Run inside each create/update's transaction (kiosk.sync queues the share for
        # the upstream there, so a committed share is always queued).
        self.write_hooks: list[WriteHook] = []
        # Called on the loop after each committed create/update (the sync worker's wake),
        # also when the writing caller was cancelled after the commit.
        self.change_listeners: list[Callable[[], None]] = []

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> ShareStore:
        """The store at its usual place in the data directory."""
        return cls(data_dir / DB_FILE)

    @property
    def path(self) -> Path:
        return self.db.path

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the database (creating and migrating it as needed). Idempotent."""
        await self.db.start()

    async def close(self) -> None:
        """Close every connection and stop the threads. Idempotent."""
        await self.db.close()

    # ------------------------------------------------------------------- writes

    async def create(self, content: str, *, owner_session: str, name: str | None = None,
                     password_hash: str | None = None, student_name: str | None = None,
                     idempotency: IdempotencyKey | None = None) -> WriteResult:
        """Store a new share under a fresh UUID and readable id; answer after the commit.

        ``student_name`` is the checked name from the Share dialog (see
        :func:`kiosk.sharing.names.parse_student_name`), or None.
        """
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
                        f"INSERT INTO shares ({_SHARE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                        (share_id, readable, name, 1, size, now, now,
                         owner_session, password_hash, content, student_name))
                    break
                except sqlite3.IntegrityError as exc:
                    if "readable_id" not in str(exc):
                        raise
                    _LOGGER.info("readable id collision on %s; drawing another", readable)
            else:  # pragma: no cover - needs ~2**30 shares
                raise Conflict("Could not find a free readable id; try again.")
            self._run_hooks(conn, share_id, 1)
            if idempotency is not None:
                self._remember(conn, idempotency, share_id, 201, now)
            # Built from what was written: reading 200 KB back would only cost time.
            share = Share(share_id, readable, name, 1, size, now, now, owner_session,
                          password_hash, content, student_name)
            return WriteResult(share, 201)

        return await self.db.execute_write_fn(work, on_commit=self._changed)

    async def update(self, ref: str, content: str, *, grant: UpdateGrant,
                     name: str | None = None, by_readable_id: bool = False,
                     student_name: str | None = None,
                     idempotency: IdempotencyKey | None = None) -> WriteResult:
        """Replace a share's content; :class:`Forbidden` unless ``grant`` owns it.

        A ``student_name`` replaces the one kept; None keeps it (JE clients send none).

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
                f"password_hash, student_name FROM shares WHERE {column} = ?",
                (ref,)).fetchone()
            if row is None:
                raise NotFound(f"There is no shared notebook '{ref}'.")
            share_id, readable, _, version, created_at, owner, password_hash, kept = row
            new_name = kept if student_name is None else student_name
            if grant.session_id != owner and grant.notebook_id != share_id:
                raise Forbidden("This notebook belongs to another session; share a copy "
                                "instead, or get a token with its password.")
            now = time.time()
            size = len(content.encode())
            conn.execute(
                "UPDATE shares SET content = ?, size = ?, name = ?, version = version + 1, "
                "updated_at = ?, student_name = ? WHERE id = ?",
                (content, size, name, now, new_name, share_id))
            self._run_hooks(conn, share_id, version + 1)
            if idempotency is not None:
                self._remember(conn, idempotency, share_id, 200, now)
            share = Share(share_id, readable, name, version + 1, size, created_at, now, owner,
                          password_hash, content, new_name)
            return WriteResult(share, 200)

        return await self.db.execute_write_fn(work, on_commit=self._changed)

    async def delete(self, share_id: str) -> bool:
        """Delete one share (by UUID); False if there was none."""
        def work(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM shares WHERE id = ?", (share_id,)).rowcount > 0

        return await self.db.execute_write_fn(work)

    async def clear(self) -> int:
        """Delete every share; return how many there were."""
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM shares").rowcount

        return await self.db.execute_write_fn(work)

    async def purge_older_than(self, cutoff: float) -> int:
        """Delete shares not updated since ``cutoff`` (a UNIX time); the retention rule."""
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM shares WHERE updated_at < ?",
                                (cutoff,)).rowcount

        return await self.db.execute_write_fn(work)

    async def expire_idempotency_keys(self, now: float | None = None) -> int:
        """Forget idempotency keys older than 24 hours."""
        cutoff = (time.time() if now is None else now) - IDEMPOTENCY_TTL_SECONDS

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?",
                                (cutoff,)).rowcount

        return await self.db.execute_write_fn(work)

    # -------------------------------------------------------------------- reads

    async def get(self, share_id: str) -> Share | None:
        """The share with this UUID (canonical form), or None."""
        def work(conn: sqlite3.Connection) -> Share | None:
            row = conn.execute(f"SELECT {_SHARE_COLUMNS} FROM shares WHERE id = ?",  # noqa: S608
                               (share_id,)).fetchone()
            return None if row is None else _share(row)

        return await self.db.execute_fn(work)

    async def get_many(self, share_ids: Sequence[str]) -> dict[str, Share]:
        """The shares with these UUIDs, by id, in one read (missing ones are left out)."""
        wanted = list(dict.fromkeys(share_ids))

        def work(conn: sqlite3.Connection) -> dict[str, Share]:
            found: dict[str, Share] = {}
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start:start + _BATCH]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(f"SELECT {_SHARE_COLUMNS} FROM shares "  # noqa: S608
                                        f"WHERE id IN ({marks})", chunk):
                    share = _share(row)
                    found[share.id] = share
            return found

        if not wanted:
            return {}
        return await self.db.execute_fn(work)

    async def get_by_readable_id(self, readable_id: str) -> Share | None:
        """The share with this readable id (as typed: see :func:`ids.normalize`), or None."""
        key = ids.normalize(readable_id)

        def work(conn: sqlite3.Connection) -> Share | None:
            row = conn.execute(f"SELECT {_SHARE_COLUMNS} FROM shares WHERE readable_id = ?",  # noqa: S608
                               (key,)).fetchone()
            return None if row is None else _share(row)

        return await self.db.execute_fn(work)

    async def list_named(self, name: str, *, limit: int = 200) -> list[ShareSummary]:
        """Shares whose file name is ``name`` (the class's copies of one lesson), newest
        first; read through the ``shares_name`` index."""
        def work(conn: sqlite3.Connection) -> list[ShareSummary]:
            rows = conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM shares WHERE name = ? "  # noqa: S608
                "ORDER BY updated_at DESC, id LIMIT ?", (name, limit)).fetchall()
            return [_summary(r) for r in rows]

        return await self.db.execute_fn(work)

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

        return await self.db.execute_fn(work)

    async def count(self, *, search: str | None = None) -> int:
        """How many shares match ``search`` (all of them without one)."""
        where, args = self._where(search)

        def work(conn: sqlite3.Connection) -> int:
            return int(conn.execute(f"SELECT count(*) FROM shares {where}", args).fetchone()[0])  # noqa: S608

        return await self.db.execute_fn(work)

    async def count_created_since(self, since: float) -> int:
        """How many shares were created at or after ``since`` (a UNIX time): "today"."""
        def work(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT count(*) FROM shares WHERE created_at >= ?",
                               (since,)).fetchone()
            return int(row[0])

        return await self.db.execute_fn(work)

    async def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` when the file is sound."""
        def work(conn: sqlite3.Connection) -> str:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            return "\n".join(str(r[0]) for r in rows)

        return await self.db.execute_write_fn(work, transaction=False)

    async def execute_write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``db.execute_write_fn``: ``fn(conn)`` in a write transaction (other capabilities)."""
        return await self.db.execute_write_fn(fn)

    async def execute_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``db.execute_fn``: ``fn(conn)`` on a read-only snapshot (other capabilities)."""
        return await self.db.execute_fn(fn)

    # ------------------------------------------------------------------ private

    def _run_hooks(self, conn: sqlite3.Connection, share_id: str, version: int) -> None:
        for hook in self.write_hooks:
            hook(conn, share_id, version)

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
                "OR lower(name) LIKE ? ESCAPE '\\' OR lower(student_name) LIKE ? ESCAPE '\\'",
                (like, like, like, like))

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
