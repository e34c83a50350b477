"""The one interface sync sends through, whatever answers upstream.

:class:`Upstream` is implemented once per protocol: :class:`kiosk.sync.je.JupyterEverywhere`
(the JE sharing service: passwords, notebook-scoped tokens, no idempotency keys) and
:class:`kiosk.sync.hub.KioskHub` (another kiosk: idempotency keys, session ownership).
The scheduler (:mod:`kiosk.sync.worker`) keeps the outbox and the links and never asks
which kind it talks to; an implementation decides passwords, tokens and what each
error answer means, and says so with the exceptions below.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.sync.client import Saved, UpstreamClient, UpstreamRejected
from kiosk.sync.outbox import UpstreamLink, WorkUnit
from kiosk.sync.tokens import TokenCache


class UpstreamGone(UpstreamRejected):
    """The upstream no longer has (or lets us update) the copy: create it again."""


class PostRefused(UpstreamRejected):
    """A POST clearly refused: nothing was created, so the next POST is a new request."""


class Upstream(Protocol):
    """How one kind of upstream is spoken to (see the module docstring)."""

    kind: str
    """Recorded with each link (``upstream_links.kind``): ``"je"`` or ``"kiosk"``."""
    replays_posts: bool
    """Whether a repeated POST with the same Idempotency-Key is answered, not applied."""

    def post_password(self, link: UpstreamLink | None, *, says_kiosk: bool) -> str:
        """The password a new POST carries ("" for none)."""
        ...

    def session_held_through_errors(self) -> bool:
        """Whether a 5xx/429 on ``auth/refresh`` keeps the session (see TokenCache)."""
        ...

    async def post(self, body: str, key: str) -> Saved:
        """``POST notebooks``; :class:`PostRefused` when it clearly created nothing."""
        ...

    async def put(self, unit: WorkUnit, link: UpstreamLink, key: str) -> Saved:
        """``PUT notebooks/{id}``; :class:`UpstreamGone` when the copy must be made anew."""
        ...


async def post_with_session(client: UpstreamClient, tokens: TokenCache, body: str, *,
                            idempotency_key: str | None, hold: bool) -> Saved:
    """POST with the session token; a 401 drops it and tries once more with a new one."""
    for attempt in range(2):
        token = await tokens.session_bearer(hold_through_errors=hold)
        try:
            return await client.create(token, body, idempotency_key=idempotency_key)
        except UpstreamRejected as exc:
            if exc.upstream_status == 401 and attempt == 0:
                await tokens.drop_session(token)
                continue
            raise
    raise UpstreamRejected("POST notebooks refused the token", 401)  # pragma: no cover
