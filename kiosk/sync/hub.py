"""Sync's protocol for a kiosk hub (another kiosk's sharing API, ``health`` says "kiosk").

A hub honours ``Idempotency-Key`` on POST and PUT, so a retry after a lost answer is
replayed, never applied twice; keys are scoped by the session, which is therefore
kept alive (stored, refreshed; a server error on refresh keeps it). A hub gets no
password with a notebook: each one would cost it a bcrypt hash (about a quarter of a
second of its CPU, which made a backlog drain at ≈3 shares/s); this kiosk's session
owns what it created there. An upstream configured as a kiosk whose ``health`` does
not say so still gets passwords (the safe default), and then updates fall back to a
notebook-scoped token like JE's.
"""

from __future__ import annotations

from kiosk.sync.client import Saved, UpstreamRejected
from kiosk.sync.outbox import UpstreamLink, WorkUnit
from kiosk.sync.upstream import (
    UpstreamBase,
    UpstreamGone,
    post_with_session,
    put_failure,
)

PUT_TRIES = 3


class KioskHub(UpstreamBase):
    """The :class:`~kiosk.sync.upstream.Upstream` for another kiosk."""

    kind = "kiosk"
    replays_posts = True

    def post_password(self, link: UpstreamLink | None, *, says_kiosk: bool) -> str:
        return "" if says_kiosk else self.password_for(link)

    def session_held_through_errors(self) -> bool:
        return True

    async def post(self, body: str, key: str, *, attempts: int) -> Saved:
        return await post_with_session(self.client, self.tokens, body, idempotency_key=key,
                                       hold=True)

    async def put(self, unit: WorkUnit, link: UpstreamLink, key: str) -> Saved:
        if not link.password:
            return await self._put_by_session(unit, link, key)
        assert link.upstream_id is not None
        upstream_id = link.upstream_id
        scoped = False
        for attempt in range(PUT_TRIES):
            token = (await self.tokens.notebook_bearer(upstream_id, link.password) if scoped
                     else await self.tokens.session_bearer(hold_through_errors=True))
            try:
                return await self.client.update(token, upstream_id, unit.content,
                                                idempotency_key=key)
            except UpstreamRejected as exc:
                status = exc.upstream_status
                failure = put_failure(exc)
                if failure is not None:
                    raise failure from None
                # 401: expired token; 403: not this session's notebook: use the password.
                if attempt < PUT_TRIES - 1 and (status in (401, 403) or (scoped and status == 500)):
                    self.tokens.drop_notebook(upstream_id)
                    scoped = True
                    continue
                raise
        raise UpstreamRejected("PUT notebooks refused every token", 403)  # pragma: no cover

    async def _put_by_session(self, unit: WorkUnit, link: UpstreamLink, key: str) -> Saved:
        """PUT a notebook created without a password: only our session may.

        A 401 means the session token is dead (expired, or the hub's key changed):
        drop it and try once more with a refreshed or new one. A 403 means the hub
        no longer counts this kiosk's session as the owner (its token expired while
        the kiosk was away for longer than the hub's ``token_days``); with no password
        to prove ownership, the notebook is shared anew on the hub (a new take-home
        link; the old one keeps the last version it received; the scheduler logs it).
        """
        assert link.upstream_id is not None
        upstream_id = link.upstream_id
        for attempt in range(2):
            token = await self.tokens.session_bearer(hold_through_errors=True)
            try:
                return await self.client.update(token, upstream_id, unit.content,
                                                idempotency_key=key)
            except UpstreamRejected as exc:
                status = exc.upstream_status
                if status == 401 and attempt == 0 and await self.tokens.drop_session(token):
                    continue
                failure = put_failure(exc)
                if failure is not None:
                    raise failure from None
                if status == 403:
                    raise UpstreamGone("the upstream no longer counts this kiosk's session "
                                       "as its owner; it will be created again", 403) from None
                raise
        raise UpstreamRejected("PUT notebooks refused the session token", 401)  # pragma: no cover
