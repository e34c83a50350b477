"""Sharing tokens: HS256 JWTs like the JE service's, but long-lived.

Claims: ``session_id`` (a random UUID naming the browser session that owns what it
shares), optionally ``notebook_id`` (a token obtained with a notebook's password), ``iat``
and ``exp``. The JE frontend keeps its token in memory and never refreshes it, so the
lifetime is ``config.token_days`` (30 days by default) rather than JE's 120 minutes.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt

from kiosk.errors import Unauthorized

if TYPE_CHECKING:
    from kiosk.clock import ClockGuard

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says."""

    session_id: str
    notebook_id: str | None
    issued_at: int
    expires_at: int


class TokenService:
    """Issues and verifies tokens with one signing key."""

    def __init__(self, key: str, lifetime_seconds: float, *,
                 clock: ClockGuard | None = None) -> None:
        self._key = key
        self._lifetime = int(lifetime_seconds)
        # With a clock guard, the dates are judged by it (a Pi's clock may not be set);
        # without one, by PyJWT against the wall clock.
        self._clock = clock

    def issue(self, *, session_id: str | None = None, notebook_id: str | None = None,
              now: float | None = None) -> str:
        """A new token; a new session id unless one is given."""
        issued = int(time.time() if now is None else now)
        claims: dict[str, object] = {
            "session_id": session_id or str(uuid.uuid4()),
            "iat": issued,
            "exp": issued + self._lifetime,
        }
        if notebook_id is not None:
            claims["notebook_id"] = notebook_id
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token, or :class:`Unauthorized` saying what is wrong."""
        dated = self._clock is None
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "session_id"], "verify_exp": dated,
                         "verify_iat": dated, "verify_nbf": dated},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired; ask for a new one at auth/issue.") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The token is not valid: {exc}.") from None
        session_id = claims.get("session_id")
        notebook_id = claims.get("notebook_id")
        if not isinstance(session_id, str) or not (
                notebook_id is None or isinstance(notebook_id, str)):
            raise Unauthorized("The token's claims are malformed.")
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            raise Unauthorized("The token's claims are malformed.")
        if self._clock is not None and not self._clock.token_usable(
                int(issued), int(expires), self._lifetime):
            raise Unauthorized("The token has expired; ask for a new one at auth/issue.")
        return TokenClaims(session_id, notebook_id, int(issued), int(expires))

    def refresh(self, token: str) -> str:
        """A fresh token for the same session (and notebook) as a still-valid ``token``."""
        claims = self.verify(token)
        return self.issue(session_id=claims.session_id, notebook_id=claims.notebook_id)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or :class:`Unauthorized`."""
    if not authorization:
        raise Unauthorized("This needs 'Authorization: Bearer <token>'; get a token from "
                           "POST auth/issue.", headers={"WWW-Authenticate": "Bearer"})
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.",
                           headers={"WWW-Authenticate": "Bearer"})
    return value.strip()
