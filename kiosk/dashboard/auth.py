"""Signing in to the dashboard: the admin secret, then an in-memory cookie session.

* ``POST /admin/login`` compares the typed secret with the kiosk's admin secret
  (:func:`hmac.compare_digest`). On success it creates a random session id, kept in
  memory with its expiry and its CSRF token, and sets it as the ``kiosk_admin``
  cookie: HttpOnly, SameSite=Strict, Path=/admin, Secure when served over HTTPS.
* Failed and successful attempts count against a per-address limit (10 per 5
  minutes → 429); the address is a key in memory only, like the sharing limits.
* ``POST /admin/logout`` forgets the session. A restart forgets every session.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

COOKIE_NAME = "kiosk_admin"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 12 * 3600.0
LOGIN_TRIES = 10
LOGIN_WINDOW_SECONDS = 300.0
MAX_SESSIONS = 64


@dataclass(slots=True)
class Session:
    """One signed-in browser: its id (the cookie), its CSRF token and its expiry."""

    id: str
    csrf: str
    expires: float


class Sessions:
    """Live sessions by id, in memory (never written anywhere)."""

    def __init__(self, *, lifetime: float = SESSION_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._by_id: dict[str, Session] = {}

    def create(self) -> Session:
        """A new session; the oldest one goes when there are too many."""
        self.prune()
        if len(self._by_id) >= MAX_SESSIONS:
            oldest = min(self._by_id.values(), key=lambda s: s.expires)
            del self._by_id[oldest.id]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                          self._clock() + self.lifetime)
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown or expired)."""
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None:
            return None
        if session.expires <= self._clock():
            del self._by_id[session_id]
            return None
        return session

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self._by_id.pop(session_id, None)

    def prune(self) -> None:
        now = self._clock()
        for sid in [sid for sid, s in self._by_id.items() if s.expires <= now]:
            del self._by_id[sid]

    def __len__(self) -> int:
        return len(self._by_id)


def current_session(request: web.Request, sessions: Sessions) -> Session | None:
    """The session named by the request's cookie, if it is live."""
    return sessions.get(request.cookies.get(COOKIE_NAME))


def set_session_cookie(response: web.StreamResponse, request: web.Request,
                       session: Session) -> None:
    response.set_cookie(COOKIE_NAME, session.id, path=COOKIE_PATH, httponly=True,
                        samesite="Strict", secure=request.secure,
                        max_age=int(SESSION_SECONDS))


def clear_session_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=request.secure)
