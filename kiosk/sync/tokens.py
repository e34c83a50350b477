"""The upstream tokens of sync: the kiosk's session, and notebook-scoped tokens.

The session token is kept in the database (``sync_state``, one per upstream URL) so
that a restart keeps the session that owns this kiosk's notebooks upstream; it is
renewed ``TOKEN_RENEW_SECONDS`` after it was obtained (JE tokens live 120 minutes),
through ``auth/refresh`` while the old one is still valid, else by a new ``auth/issue``.
Notebook-scoped tokens (``auth/issue`` with a notebook's password) live in memory only.
``clock`` is the time the cache believes (tests move it days ahead).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.db import Database
from kiosk.errors import UpstreamError
from kiosk.sync import outbox
from kiosk.sync.client import UpstreamClient, UpstreamRejected

# JE tokens live 120 minutes; renew well before, so a long send never carries a dead one.
TOKEN_RENEW_SECONDS = 100 * 60
KIOSK_ID_KEY = "kiosk_id"
SESSION_KEY = "session_token"


@dataclass(slots=True)
class Token:
    value: str
    obtained_at: float


def expired(token: str, now: float) -> bool:
    """Whether a JWT's ``exp`` has passed (False for opaque tokens: let the server say)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) <= now
    except (IndexError, ValueError, KeyError, TypeError):
        return False


class TokenCache:
    """Hands out bearer tokens for one upstream; see the module docstring.

    ``fixed`` is a token from the settings (``upstream_token``): then it is the only
    session token, never refreshed or dropped.
    """

    def __init__(self, client: UpstreamClient, db: Database, base: str, *,
                 fixed: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.db = db
        self.base = base
        self.fixed = fixed
        self.clock = clock
        self.session: Token | None = None
        self.kiosk_id = ""
        self._notebooks: dict[str, Token] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Read (or create) the kiosk id and the stored session token."""
        key = f"{SESSION_KEY}:{self.base}"

        def work(conn: sqlite3.Connection) -> tuple[str, str | None]:
            kiosk_id = outbox.get_state(conn, KIOSK_ID_KEY)
            if kiosk_id is None:
                kiosk_id = uuid.uuid4().hex
                outbox.set_state(conn, KIOSK_ID_KEY, kiosk_id)
            return kiosk_id, outbox.get_state(conn, key)

        self.kiosk_id, saved = await self.db.execute_write_fn(work)
        if saved:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                data = json.loads(saved)
                self.session = Token(str(data["token"]), float(data["obtained_at"]))

    def renewal_due(self) -> bool:
        """Whether the stored session token is old enough to be renewed."""
        return (self.session is not None and not self.fixed
                and self.clock() - self.session.obtained_at >= TOKEN_RENEW_SECONDS)

    async def session_bearer(self, *, hold_through_errors: bool = False) -> str:
        """The session token: kept in the store, renewed before it expires.

        Refreshing keeps the session (it owns our notebooks and scopes our keys).
        With ``hold_through_errors`` (a kiosk hub, whose notebooks have no password),
        only a clear refusal (a 4xx other than 429) ends it: a server error or a busy
        answer is raised, to be retried later with the same session.
        """
        if self.fixed:
            return self.fixed
        async with self._lock:
            current = self.session
            now = self.clock()
            if current is not None and now - current.obtained_at < TOKEN_RENEW_SECONDS:
                return current.value
            value: str | None = None
            if current is not None and not expired(current.value, now):
                try:
                    value = await self.client.refresh(current.value)
                except UpstreamRejected as exc:
                    status = exc.upstream_status
                    if hold_through_errors and (status >= 500 or status == 429):
                        raise
            if value is None:
                value = await self.client.issue()
            self.session = Token(value, now)
            saved = json.dumps({"token": value, "obtained_at": now})
            key = f"{SESSION_KEY}:{self.base}"
            await self.db.execute_write_fn(lambda c: outbox.set_state(c, key, saved))
            return value

    async def drop_session(self, value: str) -> bool:
        """Forget the session token ``value`` (refused by the upstream); False if fixed."""
        if self.fixed:
            return False
        async with self._lock:
            if self.session is not None and self.session.value == value:
                self.session = None
        return True

    async def reissue_session(self, value: str, *, keep_session: bool) -> bool:
        """Replace the session token ``value`` (the upstream failed with it); False if fixed.

        With ``keep_session`` (a hub, whose session owns what this kiosk created there
        without a password) the new token comes from ``auth/refresh`` now, same session;
        its error, if any, is raised. Otherwise the token is dropped and the next
        :meth:`session_bearer` issues a new session.
        """
        if self.fixed:
            return False
        if not keep_session:
            return await self.drop_session(value)
        async with self._lock:
            if self.session is None or self.session.value != value:
                return True  # replaced meanwhile
            now = self.clock()
            renewed = await self.client.refresh(value)
            self.session = Token(renewed, now)
            saved = json.dumps({"token": renewed, "obtained_at": now})
            key = f"{SESSION_KEY}:{self.base}"
            await self.db.execute_write_fn(lambda c: outbox.set_state(c, key, saved))
        return True

    async def keep_alive(self, *, hold_through_errors: bool) -> str | None:
        """Renew the session token when due, even with nothing to send.

        Returns the error (for the log) when the upstream did not renew it yet.
        """
        if not self.renewal_due():
            return None
        try:
            await self.session_bearer(hold_through_errors=hold_through_errors)
        except UpstreamError as exc:
            return str(exc)
        return None

    async def notebook_bearer(self, upstream_id: str, password: str) -> str:
        """A token issued with the notebook's password, cached until near its expiry."""
        now = self.clock()
        cached = self._notebooks.get(upstream_id)
        if cached is not None and now - cached.obtained_at < TOKEN_RENEW_SECONDS:
            return cached.value
        value = await self.client.issue(notebook_id=upstream_id, password=password)
        self._notebooks[upstream_id] = Token(value, now)
        return value

    def drop_notebook(self, upstream_id: str) -> None:
        self._notebooks.pop(upstream_id, None)
