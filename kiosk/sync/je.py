"""Sync's protocol for the Jupyter Everywhere sharing service.

Every notebook gets a random password with its POST: JE sessions expire after two
hours, and only the creating session or a token issued with the notebook's password
(``auth/issue {notebookId, password}``) may update it, so updates use such a
notebook-scoped token. JE has no Idempotency-Key: a POST whose answer was lost may have
created a copy (the scheduler counts it as a possible duplicate). A 4xx to a POST
created nothing; 400/413/422, or a 500 that a new token did not cure on
``REFUSE_AFTER`` attempts in a row, is a refusal for good. A PUT refused with 401/403
(a dead token) or 500 (JE's answer to a token that is not the owner's) is retried with
a fresh scoped token; a copy JE will not give such a token for, on ``GONE_AFTER``
attempts in a row, is shared anew. Streaks are kept in the outbox row
(:class:`~kiosk.sync.upstream.Repeating`): failures of the line between two attempts
do not count, so a share that waited out a bad line is not refused at its first 500.
"""

from __future__ import annotations

from kiosk.sync.client import Saved, UpstreamRejected
from kiosk.sync.outbox import OutboxItem, UpstreamLink, WorkUnit
from kiosk.sync.upstream import (
    REFUSE_AFTER,
    UNKNOWN_COPY,
    PersistentServerError,
    Repeating,
    UpstreamBase,
    UpstreamGone,
    persistent,
    post_with_session,
    put_failure,
)

__all__ = ["GONE_AFTER", "PUT_TRIES", "REFUSE_AFTER", "JupyterEverywhere"]

PUT_TRIES = 3
GONE_AFTER = 3


class JupyterEverywhere(UpstreamBase):
    """The :class:`~kiosk.sync.upstream.Upstream` for a JE sharing service."""

    kind = "je"
    replays_posts = False

    def post_password(self, link: UpstreamLink | None, *, says_kiosk: bool) -> str:
        return self.password_for(link)

    def session_held_through_errors(self) -> bool:
        return False  # notebooks carry passwords: any refusal may start a new session

    async def post(self, body: str, key: str, *, item: OutboxItem) -> Saved:
        try:
            return await post_with_session(self.client, self.tokens, body,
                                           idempotency_key=None, hold=False)
        except PersistentServerError as exc:
            # JE will not store this notebook? (A 500 also hides what it thinks is wrong
            # with one.) Parked as refused, like a 413, once it repeats.
            raise persistent(exc, item) from None

    async def put(self, unit: WorkUnit, link: UpstreamLink, key: str) -> Saved:
        assert link.upstream_id is not None
        upstream_id = link.upstream_id
        for attempt in range(PUT_TRIES):
            try:
                token = await self.tokens.notebook_bearer(upstream_id, link.password)
            except UpstreamRejected as exc:
                # JE answers auth/issue for a notebook it does not know with a 500 (or
                # 403), and 401 to a password that is not that notebook's.
                raise self._unknown(unit, exc) from None
            try:
                return await self.client.update(token, upstream_id, unit.content,
                                                idempotency_key=None)
            except UpstreamRejected as exc:
                status = exc.upstream_status
                failure = put_failure(exc)
                if failure is not None:
                    raise failure from None
                if attempt < PUT_TRIES - 1 and status in (401, 403, 500):
                    self.tokens.drop_notebook(upstream_id)
                    continue
                if status == 500:
                    # JE gave a token for its copy, and still fails to store this version.
                    raise persistent(PersistentServerError(
                        f"{exc}, also with {PUT_TRIES} new tokens", 500), unit.item) from None
                raise
        raise UpstreamRejected("PUT notebooks refused every token", 403)  # pragma: no cover

    @staticmethod
    def _unknown(unit: WorkUnit, exc: UpstreamRejected) -> UpstreamRejected:
        """JE would not give a token for its copy: after ``GONE_AFTER`` tries, share anew.

        A PUT to a copy JE no longer knows is a 500, like a passing server error, so
        one answer proves nothing; the same answer on ``GONE_AFTER`` attempts (spread
        by the share's backoff) does.
        """
        tries = unit.item.repeats(UNKNOWN_COPY) + 1
        if exc.upstream_status in (401, 403, 404, 500) and tries >= GONE_AFTER:
            return UpstreamGone(f"the upstream no longer knows its copy ({exc}, {tries} "
                                "attempts in a row); it will be shared again as a new copy",
                                exc.upstream_status)
        return Repeating(f"the upstream would not give a token for its copy: {exc} "
                         f"(attempt {tries} of {GONE_AFTER} in a row)", exc.upstream_status,
                         UNKNOWN_COPY)
