"""All of sync's SQL: the outbox, the upstream links, the pull-through cache, its state.

Plain functions of a ``sqlite3.Connection``; sync runs them through the kiosk's
database (``Database.execute_write_fn`` on the writer thread, ``execute_fn`` on a
reader), never on the event loop. The tables are :data:`kiosk.sync.schema.SYNC_SCHEMA`.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.sharing.store import ShareStore
from kiosk.sharing.upstream import UpstreamRef
from kiosk.sync.schema import SYNC_SCHEMA


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One notebook waiting to go upstream, with its retry state."""

    share_id: str
    version: int
    enqueued_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    #: what the last attempt's error answer was (``UpstreamRejected.kind``), if it counts
    error_kind: str | None = None
    #: how many attempts in a row ended with ``error_kind`` (None: none)
    error_repeats: int | None = None

    def repeats(self, kind: str) -> int:
        """Consecutive attempts so far that ended with an error of ``kind``."""
        return (self.error_repeats or 0) if self.error_kind == kind else 0


@dataclass(frozen=True, slots=True)
class UpstreamLink:
    """A local share's copy upstream (``upstream_id`` is None until a POST succeeded)."""

    share_id: str
    upstream: str
    kind: str
    upstream_id: str | None
    upstream_readable_id: str | None
    password: str
    synced_version: int
    synced_at: float | None
    post_attempts: int
    pending_key: str | None
    pending_version: int | None
    pending_body: str | None
    possible_duplicates: int
    duplicate_note: str | None


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """What sending one notebook needs: its outbox row, its content, its link."""

    item: OutboxItem
    version: int
    content: str
    link: UpstreamLink | None
    #: the name the student typed when sharing (sent only with sync_student_names)
    student_name: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """Numbers for the status: queued rows, rows due now, oldest enqueue time."""

    queued: int
    due: int
    failing: int
    oldest_enqueued_at: float | None
    synced: int
    possible_duplicates: int
    refused: int = 0


_LINK_COLUMNS = ("share_id, upstream, kind, upstream_id, upstream_readable_id, password, "
                 "synced_version, synced_at, post_attempts, pending_key, pending_version, "
                 "pending_body, possible_duplicates, duplicate_note")
_ITEM_COLUMNS = ("share_id, version, enqueued_at, attempts, next_attempt_at, last_error, "
                 "error_kind, error_repeats")


def backoff_delay(attempts: int, base: float, cap: float,
                  rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(attempts-1))].

    ``attempts`` counts failures so far (1 after the first). The jitter spreads the
    retries of thirty kiosks (or a thousand notebooks) that failed together.
    """
    ceiling = min(cap, base * (2 ** max(0, min(attempts - 1, 30))))
    return (rng or random).uniform(0, ceiling)


def attach(store: ShareStore, *, queue_writes: bool) -> None:
    """Give the store's database sync's tables and, while sync is on, queue share writes.

    Before ``store.start()``. Without ``queue_writes`` nothing is recorded: no student
    data leaves the kiosk until the teacher turns sync on.
    """
    store.db.add_schema(SYNC_SCHEMA)
    if queue_writes and enqueue not in store.write_hooks:
        store.write_hooks.append(enqueue)


def enqueue(conn: sqlite3.Connection, share_id: str, version: int) -> None:
    """The share store's write hook while sync is on: queue a created/updated share.

    Upserts the notebook's one outbox row with its new ``version``, in the same
    transaction as the write, so a committed share is always queued. Updates
    coalesce: the row keeps its place in line and its retry state.
    """
    conn.execute(
        "INSERT INTO outbox (share_id, version, enqueued_at) VALUES (?, ?, ?) "
        "ON CONFLICT(share_id) DO UPDATE SET version = max(version, excluded.version), "
        # A refused share that changed is tried again now, from a clean retry state.
        "attempts = CASE WHEN refused IS NULL THEN attempts ELSE 0 END, "
        "next_attempt_at = CASE WHEN refused IS NULL THEN next_attempt_at ELSE 0 END, "
        "error_kind = CASE WHEN refused IS NULL THEN error_kind END, "
        "error_repeats = CASE WHEN refused IS NULL THEN error_repeats END, "
        "refused = NULL",
        (share_id, version, time.time()))


def _ids_json(share_ids: Sequence[str]) -> str:
    # One parameter for any number of ids: `IN (SELECT value FROM json_each(?))`.
    return json.dumps(list(share_ids))


def upstream_refs(conn: sqlite3.Connection, share_ids: Sequence[str]) -> dict[str, UpstreamRef]:
    """Where these shares live upstream (only those a POST created there), in one query."""
    rows = conn.execute(
        "SELECT share_id, upstream, upstream_id, upstream_readable_id, synced_version, kind "
        "FROM upstream_links WHERE upstream_id IS NOT NULL "
        "AND share_id IN (SELECT value FROM json_each(?))", (_ids_json(share_ids),)).fetchall()
    return {r[0]: UpstreamRef(r[1], r[2], r[3], int(r[4]), r[5]) for r in rows}


def queued_among(conn: sqlite3.Connection, share_ids: Sequence[str]) -> set[str]:
    """Which of these shares wait in the outbox, in one query."""
    rows = conn.execute("SELECT share_id FROM outbox WHERE refused IS NULL AND share_id IN "
                        "(SELECT value FROM json_each(?))", (_ids_json(share_ids),)).fetchall()
    return {str(r[0]) for r in rows}


def refusals(conn: sqlite3.Connection, share_ids: Sequence[str]) -> dict[str, str]:
    """Why the upstream refused these shares for good (only those it refused)."""
    rows = conn.execute("SELECT share_id, refused FROM outbox WHERE refused IS NOT NULL AND "
                        "share_id IN (SELECT value FROM json_each(?))",
                        (_ids_json(share_ids),)).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def refuse(conn: sqlite3.Connection, share_id: str, reason: str, error: str) -> bool:
    """The upstream refused this version for good: park the row until the share changes.

    Returns False when the row was already parked with this reason (log it once).
    """
    before = conn.execute("SELECT refused FROM outbox WHERE share_id = ?",
                          (share_id,)).fetchone()
    conn.execute("UPDATE outbox SET refused = ?, last_error = ?, attempts = attempts + 1 "
                 "WHERE share_id = ?", (reason, error[:500], share_id))
    return before is not None and before[0] != reason


def due_items(conn: sqlite3.Connection, now: float, limit: int,
              exclude: frozenset[str] = frozenset()) -> list[OutboxItem]:
    """Rows due now, oldest first, skipping notebooks already in flight."""
    rows = conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM outbox WHERE next_attempt_at <= ? "  # noqa: S608
        "AND refused IS NULL ORDER BY enqueued_at, share_id LIMIT ?",
        (now, limit + len(exclude))).fetchall()
    items = [OutboxItem(*r) for r in rows if r[0] not in exclude]
    return items[:limit]


def latest_attempt_at(conn: sqlite3.Connection) -> float | None:
    """The furthest retry time of any row (None: the outbox is empty)."""
    value = conn.execute("SELECT max(next_attempt_at) FROM outbox").fetchone()[0]
    return None if value is None else float(value)


def next_due_at(conn: sqlite3.Connection) -> float | None:
    """When the earliest row becomes due (None for an empty outbox)."""
    row = conn.execute("SELECT min(next_attempt_at) FROM outbox WHERE refused IS NULL"
                       ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def load_unit(conn: sqlite3.Connection, share_id: str) -> WorkUnit | None:
    """The outbox row with the share's current content and link; None if either is gone."""
    item = conn.execute(f"SELECT {_ITEM_COLUMNS} FROM outbox WHERE share_id = ?",  # noqa: S608
                        (share_id,)).fetchone()
    if item is None:
        return None
    share = conn.execute("SELECT version, content, student_name FROM shares WHERE id = ?",
                         (share_id,)).fetchone()
    if share is None:
        return WorkUnit(OutboxItem(*item), 0, "", None)
    return WorkUnit(OutboxItem(*item), int(share[0]), str(share[1]), get_link(conn, share_id),
                    share[2])


def is_queued(conn: sqlite3.Connection, share_id: str) -> bool:
    """Whether the share waits in the outbox (made or changed while sync was on)."""
    return conn.execute("SELECT 1 FROM outbox WHERE share_id = ? AND refused IS NULL",
                        (share_id,)).fetchone() is not None


def get_link(conn: sqlite3.Connection, share_id: str) -> UpstreamLink | None:
    row = conn.execute(f"SELECT {_LINK_COLUMNS} FROM upstream_links WHERE share_id = ?",  # noqa: S608
                       (share_id,)).fetchone()
    return None if row is None else UpstreamLink(*row)


def drop_item(conn: sqlite3.Connection, share_id: str) -> None:
    conn.execute("DELETE FROM outbox WHERE share_id = ?", (share_id,))


def prepare_post(conn: sqlite3.Connection, share_id: str, *, upstream: str, kind: str,
                 password: str, key: str, version: int, body: str) -> UpstreamLink:
    """Before a POST: keep the exact request (for a replay) and count the attempt.

    An earlier POST whose answer was never seen may have created the notebook
    upstream; a kiosk upstream replays the same Idempotency-Key, but the JE service
    cannot, so there the earlier attempt is recorded as a possible duplicate.
    """
    link = get_link(conn, share_id)
    if link is None:
        conn.execute(
            "INSERT INTO upstream_links (share_id, upstream, kind, password, post_attempts, "
            "pending_key, pending_version, pending_body) VALUES (?,?,?,?,1,?,?,?)",
            (share_id, upstream, kind, password, key, version, body))
    elif link.pending_key is None:
        conn.execute(
            "UPDATE upstream_links SET upstream = ?, kind = ?, post_attempts = post_attempts "
            "+ 1, pending_key = ?, pending_version = ?, pending_body = ? WHERE share_id = ?",
            (upstream, kind, key, version, body, share_id))
    else:
        conn.execute("UPDATE upstream_links SET post_attempts = post_attempts + 1 "
                     "WHERE share_id = ?", (share_id,))
    found = get_link(conn, share_id)
    assert found is not None
    return found


def delete_link(conn: sqlite3.Connection, share_id: str) -> None:
    """Forget a share's upstream link (the teacher pointed the kiosk elsewhere)."""
    conn.execute("DELETE FROM upstream_links WHERE share_id = ?", (share_id,))


def clear_pending(conn: sqlite3.Connection, share_id: str) -> None:
    """A POST was clearly refused: nothing was created, so the next POST is a new one."""
    conn.execute("UPDATE upstream_links SET pending_key = NULL, pending_body = NULL "
                 "WHERE share_id = ?", (share_id,))


def attempts_of(conn: sqlite3.Connection, share_id: str) -> int | None:
    """The failed attempts of a queued share so far (None when it is not queued)."""
    row = conn.execute("SELECT attempts FROM outbox WHERE share_id = ?",
                       (share_id,)).fetchone()
    return None if row is None else int(row[0])


def note_possible_duplicate(conn: sqlite3.Connection, share_id: str, note: str) -> None:
    conn.execute("UPDATE upstream_links SET possible_duplicates = possible_duplicates + 1, "
                 "duplicate_note = ? WHERE share_id = ?", (note, share_id))


def record_created(conn: sqlite3.Connection, share_id: str, *, upstream_id: str,
                   readable_id: str | None, version: int, now: float) -> None:
    """A POST succeeded: remember the upstream ids; forget the pending request."""
    conn.execute(
        "UPDATE upstream_links SET upstream_id = ?, upstream_readable_id = ?, "
        "synced_version = ?, synced_at = ?, pending_key = NULL, pending_version = NULL, "
        "pending_body = NULL WHERE share_id = ?",
        (upstream_id, readable_id, version, now, share_id))


def record_updated(conn: sqlite3.Connection, share_id: str, *, version: int,
                   readable_id: str | None, now: float) -> None:
    conn.execute(
        "UPDATE upstream_links SET synced_version = max(synced_version, ?), synced_at = ?, "
        "upstream_readable_id = coalesce(?, upstream_readable_id) WHERE share_id = ?",
        (version, now, readable_id, share_id))


def forget_upstream(conn: sqlite3.Connection, share_id: str) -> None:
    """The upstream no longer knows the notebook (404 on PUT): create it anew."""
    conn.execute("UPDATE upstream_links SET upstream_id = NULL, upstream_readable_id = NULL, "
                 "synced_version = 0 WHERE share_id = ?", (share_id,))


def finish_item(conn: sqlite3.Connection, share_id: str, version: int) -> bool:
    """Drop the outbox row if nothing newer than ``version`` was queued meanwhile.

    Returns True when the row is gone; otherwise the newer version stays queued
    (with a clean retry state) and is sent next.
    """
    gone = conn.execute("DELETE FROM outbox WHERE share_id = ? AND version <= ?",
                        (share_id, version)).rowcount > 0
    if not gone:
        conn.execute("UPDATE outbox SET attempts = 0, next_attempt_at = 0, last_error = NULL, "
                     "error_kind = NULL, error_repeats = NULL WHERE share_id = ?", (share_id,))
    return gone


def fail_item(conn: sqlite3.Connection, share_id: str, error: str, delay: float,
              now: float, *, kind: str | None = None) -> int:
    """Count a failed attempt and schedule the next one; returns the attempt count.

    ``kind``: the error's kind when it counts on consecutive attempts (``error_repeats``
    goes up while the same kind repeats). A failure without a kind (the line, another
    answer) leaves the streak as it was when it is a failure of the line, else ends it.
    """
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = :at, last_error = :error, "
        "error_repeats = CASE WHEN :kind IS NOT NULL AND error_kind IS :kind "
        "THEN coalesce(error_repeats, 0) + 1 WHEN :kind IS NOT NULL THEN 1 "
        "WHEN :line THEN error_repeats END, "
        "error_kind = CASE WHEN :kind IS NOT NULL THEN :kind WHEN :line THEN error_kind END "
        "WHERE share_id = :id",
        {"at": now + delay, "error": error[:500], "kind": kind, "id": share_id,
         "line": error.startswith(CONNECTION_ERROR)})
    row = conn.execute("SELECT attempts FROM outbox WHERE share_id = ?", (share_id,)).fetchone()
    return 0 if row is None else int(row[0])


CONNECTION_ERROR = "connection: "
"""Prefix of ``last_error`` for failures of the line, not of the share."""


def reset_backoff(conn: sqlite3.Connection) -> int:
    """The teacher said 'sync now': every row due now, refused ones tried again too."""
    return conn.execute("UPDATE outbox SET next_attempt_at = 0, refused = NULL, "
                        "attempts = CASE WHEN refused IS NULL THEN attempts ELSE 0 END, "
                        "error_kind = CASE WHEN refused IS NULL THEN error_kind END, "
                        "error_repeats = CASE WHEN refused IS NULL THEN error_repeats END "
                        "WHERE next_attempt_at > 0 OR refused IS NOT NULL").rowcount


def reset_after_reconnect(conn: sqlite3.Connection) -> int:
    """The upstream answers again: rows that failed because the line was down are due now.

    A row whose own send keeps failing (an error answer) keeps its backoff: a
    reconnect does not make the same error repeat sooner.
    """
    return conn.execute("UPDATE outbox SET next_attempt_at = 0 WHERE next_attempt_at > 0 "
                        "AND refused IS NULL AND (last_error IS NULL OR substr(last_error, 1, ?) "
                        "= ?)", (len(CONNECTION_ERROR), CONNECTION_ERROR)).rowcount


def counts(conn: sqlite3.Connection, now: float | None = None) -> OutboxCounts:
    now = time.time() if now is None else now
    queued, due, failing, oldest, refused = conn.execute(
        "SELECT coalesce(sum(refused IS NULL), 0), "
        "coalesce(sum(next_attempt_at <= ? AND refused IS NULL), 0), "
        "coalesce(sum(attempts > 0 AND refused IS NULL), 0), "
        "min(CASE WHEN refused IS NULL THEN enqueued_at END), "
        "coalesce(sum(refused IS NOT NULL), 0) FROM outbox", (now,)).fetchone()
    synced, dups = conn.execute(
        "SELECT coalesce(sum(upstream_id IS NOT NULL), 0), "
        "coalesce(sum(possible_duplicates), 0) FROM upstream_links").fetchone()
    return OutboxCounts(int(queued), int(due), int(failing),
                        None if oldest is None else float(oldest), int(synced), int(dups),
                        int(refused))


def kind_of(conn: sqlite3.Connection, upstream: str) -> str | None:
    """The kind of upstream that copies on ``upstream`` were made for (None: none yet)."""
    row = conn.execute("SELECT kind FROM upstream_links WHERE upstream = ? "
                       "ORDER BY synced_at DESC LIMIT 1", (upstream,)).fetchone()
    return None if row is None else str(row[0])


def get_state(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_state(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM sync_state WHERE key = ?", (key,))
    else:
        conn.execute("INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)",
                     (key, value))


def cache_pulled(conn: sqlite3.Connection, ref: str, upstream_id: str, *,
                 readable_id: str | None, content: str, now: float) -> None:
    for key in {ref, upstream_id, *([readable_id] if readable_id else [])}:
        conn.execute("INSERT OR REPLACE INTO pulled (ref, upstream_id, readable_id, content, "
                     "fetched_at) VALUES (?,?,?,?,?)",
                     (key, upstream_id, readable_id, content, now))


def get_pulled(conn: sqlite3.Connection, ref: str) -> tuple[str, str | None, str] | None:
    """``(upstream_id, readable_id, content)`` of a cached upstream notebook."""
    row = conn.execute("SELECT upstream_id, readable_id, content FROM pulled WHERE ref = ?",
                       (ref,)).fetchone()
    return None if row is None else (str(row[0]), row[1], str(row[2]))
