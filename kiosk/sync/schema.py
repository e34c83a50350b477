"""The sync capability's tables in the kiosk's database (see :mod:`kiosk.db`).

They sit in the same file as the shares, so a share and its outbox row are written
in one transaction. Migration 1 shipped as the file's second ``user_version``
(see ``kiosk.db.LEGACY_ORDER``). Append only: never edit a shipped migration.
"""

from __future__ import annotations

from kiosk.db import Schema

SYNC_SCHEMA = Schema("sync", (
    (
        # One outbox row per notebook waiting to go upstream. Updates coalesce into
        # the row (only the latest content matters), and since a row is the whole
        # notebook, its creation upstream always precedes its updates. `version` is
        # the share's version when last enqueued; retry state survives restarts. No
        # foreign key: a deleted share's row is removed with it (migration 2).
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
    ),
    (
        # A deleted share (teacher, retention, `kiosk shares`) leaves the outbox in the
        # same transaction, whoever deleted it: the sharing API has no delete, so
        # nothing goes upstream. (The share store did this itself before.)
        """CREATE TRIGGER outbox_share_deleted AFTER DELETE ON shares
        BEGIN
            DELETE FROM outbox WHERE share_id = old.id;
        END""",
    ),
    (
        # A share the upstream refused for good (too large, not a notebook it accepts):
        # the reason in a student's words. Not retried until the share changes or the
        # teacher asks ("sync now"); see outbox.refuse.
        "ALTER TABLE outbox ADD COLUMN refused TEXT",
    ),
    (
        # The kind of error answer the row's last attempt ended with, when it is one that
        # counts toward a limit only on consecutive attempts (a 500 that a new token did
        # not cure; a copy the upstream will not give a token for), and how many attempts
        # in a row ended with it. Failures of the line do not count (see outbox.fail_item).
        "ALTER TABLE outbox ADD COLUMN error_kind TEXT",
        # (NULL: none; new columns of old rows stay empty.)
        "ALTER TABLE outbox ADD COLUMN error_repeats INTEGER",
    ),
))
