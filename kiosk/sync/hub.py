"""Sync's protocol for a kiosk hub (another kiosk's sharing API, ``health`` says "kiosk").

A hub honours ``Idempotency-Key`` on POST and PUT, so a retry after a lost answer is
replayed, never applied twice; keys are scoped by the session, which is therefore
kept alive (stored, refreshed; a server error on refresh keeps it). A hub gets no
password with a notebook: each one would cost it a bcrypt hash (about a quarter of a
second of its CPU, which made a backlog drain at ≈3 shares/s); this kiosk's session
owns what it created there. An upstream configured as a kiosk whose ``health`` does
not say so still gets passwords (the safe default), and then updates fall back to a
notebook-scoped token like JE's.

Refusals follow the same rules as JE's: a 400, 413 or 422 (to a POST or a PUT) is a
refusal for good; a 500 gets one new token (the session's, refreshed: a new session
would lose what this one owns) and a 500 again counts toward ``REFUSE_AFTER`` attempts
in a row, then the share is refused (:func:`kiosk.sync.upstream.persistent`).
"""

from __future__ import annotations

from kiosk.sync.client import Saved, UpstreamRejected
from kiosk.sync.outbox import OutboxItem, UpstreamLink, WorkUnit
from kiosk.sync.upstream import (
    PersistentServerError,
    UpstreamBase,
    UpstreamGone,
    persistent,
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

    async def post(self, body: str, key: str, *, item: OutboxItem) -> Saved:
        try:
            return await post_with_session(self.client, self.tokens, body,
                                           idempotency_key=key, hold=True)
        except PersistentServerError as exc:
            raise persistent(exc, item) from None

    async def put(self, unit: WorkUnit, link: UpstreamLink, key: str) -> Saved:
        if not link.password:
            return await self._put_by_session(unit, link, key)
        assert link.upstream_id is not None
        upstream_id = link.upstream_id
        scoped = False
        reissued_for_500 = False
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
                if status == 500 and reissued_for_500:
                    raise persistent(PersistentServerError(
                        f"{exc}, also with a new token", 500), unit.item) from None
                if attempt < PUT_TRIES - 1 and status == 500:
                    # A new token of the same kind first.
                    if scoped:
                        self.tokens.drop_notebook(upstream_id)
                    elif not await self.tokens.reissue_session(token, keep_session=True):
                        raise
                    reissued_for_500 = True
                    continue
                # 401: expired token; 403: not this session's notebook: use the password.
                if attempt < PUT_TRIES - 1 and status in (401, 403):
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
        A 500 gets the session's token refreshed once; a 500 again counts toward a
        refusal (see the module docstring).
        """
        assert link.upstream_id is not None
        upstream_id = link.upstream_id
        reissued_for_500 = False
        for attempt in range(2):
            token = await self.tokens.session_bearer(hold_through_errors=True)
            try:
                return await self.client.update(token, upstream_id, unit.content,
                                                idempotency_key=key)
            except UpstreamRejected as exc:
                status = exc.upstream_status
                if status == 401 and attempt == 0 and await self.tokens.drop_session(token):
                    continue
                if status == 500 and reissued_for_500:
                    raise persistent(PersistentServerError(
                        f"{exc}, also with a new token", 500), unit.item) from None
                if status == 500 and attempt == 0 and await self.tokens.reissue_session(
                        token, keep_session=True):
                    reissued_for_500 = True
                    continue
                failure = put_failure(exc)
                if failure is not None:
                    raise failure from None
                if status == 403:
                    raise UpstreamGone("the upstream no longer counts this kiosk's session "
                                       "as its owner; it will be created again", 403) from None
                raise
        raise UpstreamRejected("PUT notebooks refused the session token", 401)  # pragma: no cover
