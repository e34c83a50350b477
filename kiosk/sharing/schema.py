"""The sharing capability's tables in the kiosk's database (see :mod:`kiosk.db`).

Append only: a shipped migration is never edited, since data directories ran it.
"""

from __future__ import annotations

from kiosk.db import Schema

SHARING_SCHEMA = Schema("sharing", (
    (
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
    ),
    (
        # 2: the name a student may type in the Share dialog (kept on the kiosk; sent
        # upstream only when the teacher allows it). Never an address.
        "ALTER TABLE shares ADD COLUMN student_name TEXT",
        # The dashboard groups the class's copies of the lesson of the day by file name.
        "CREATE INDEX shares_name ON shares(name)",
    ),
))
