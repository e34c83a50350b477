"""The one interface sync sends through, whatever answers upstream.

:class:`Upstream` is implemented once per protocol: :class:`kiosk.sync.je.JupyterEverywhere`
(the JE sharing service: passwords, notebook-scoped tokens, no idempotency keys) and
:class:`kiosk.sync.hub.KioskHub` (another kiosk: idempotency keys, session ownership).
The scheduler (:mod:`kiosk.sync.worker`) keeps the outbox and the links and never asks
which kind it talks to; an implementation decides passwords, tokens and what each
error answer means, and says so with the exceptions below.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from kiosk.sync.client import Saved, UpstreamClient, UpstreamRejected
from kiosk.sync.outbox import OutboxItem, UpstreamLink, WorkUnit
from kiosk.sync.tokens import TokenCache


class UpstreamGone(UpstreamRejected):
    """The upstream no longer has (or lets us update) the copy: create it again."""


class Repeating(UpstreamRejected):
    """An error answer that means something only when it repeats on consecutive attempts.

    ``kind`` (:data:`SERVER_ERROR`, :data:`UNKNOWN_COPY`) is recorded with the failure
    (``outbox.error_kind``/``error_repeats``); the implementation reads the streak from
    the row (``OutboxItem.repeats``) and acts once it is long enough. Failures of the
    line between two such attempts do not break the streak; any other answer does.
    """

    def __init__(self, message: str, status: int, kind: str) -> None:
        super().__init__(message, status)
        self.kind = kind


class PersistentServerError(UpstreamRejected):
    """A 500 that came back with a freshly issued token too (within one attempt)."""


class PostRefused(UpstreamRejected):
    """A POST clearly refused: nothing was created, so the next POST is a new request."""


class UpstreamRefused(PostRefused):
    """The upstream refused this version for good; ``reason`` is in a student's words.

    The scheduler parks the share (``refused``) until it changes or the teacher asks.
    """

    def __init__(self, message: str, status: int, reason: str) -> None:
        super().__init__(message, status)
        self.reason = reason


# What a refusal for good means, for the student who shared (the Share dialog, the
# dashboard): a 413 is the size limit, a 400 or 422 a notebook the service will not take.
REFUSALS = {
    413: "too large for the cloud service: clear outputs and share again",
    422: "the cloud service did not accept this notebook: check that it opens, then "
         "share again",
    400: "the cloud service could not read this notebook: check that it opens, then "
         "share again",
}
SESSION_TRIES = 3
PERSISTENT_ERROR = ("the cloud service keeps failing to store this notebook: change it "
                    "(or clear its outputs) and share again")
REFUSE_AFTER = 5
"""Consecutive attempts ending in a 500 that a new token did not cure: then refused."""
SERVER_ERROR = "server-error"
UNKNOWN_COPY = "unknown-copy"


def refused(exc: UpstreamRejected) -> UpstreamRefused | None:
    """The refusal for good that an error answer stands for (None for others)."""
    reason = REFUSALS.get(exc.upstream_status)
    return None if reason is None else UpstreamRefused(str(exc), exc.upstream_status, reason)


def put_failure(exc: UpstreamRejected) -> UpstreamRejected | None:
    """What a refused PUT means for good, before any retry: the copy is gone (404, it will
    be created again) or the version is refused (see :func:`refused`); None otherwise."""
    if exc.upstream_status == 404:
        return UpstreamGone("the upstream lost the notebook; it will be created again", 404)
    return refused(exc)


class UpstreamBase:
    """What every implementation holds: the HTTP client and the session's token cache."""

    def __init__(self, client: UpstreamClient, tokens: TokenCache) -> None:
        self.client = client
        self.tokens = tokens

    @staticmethod
    def password_for(link: UpstreamLink | None) -> str:
        """The copy's password: the one it was first posted with (a retried POST keeps
        it), else a new random one."""
        if link is not None and link.password:
            return link.password
        return secrets.token_urlsafe(24)


def persistent(exc: PersistentServerError, item: OutboxItem) -> UpstreamRejected:
    """What a 500 that a new token did not cure means, on this share's record.

    On ``REFUSE_AFTER`` consecutive attempts (spread by the share's backoff) the upstream
    will not store this version: a refusal for good (a 500 hides what it thinks is
    wrong). Before that, a :class:`Repeating` failure that counts toward it.
    """
    tries = item.repeats(SERVER_ERROR) + 1
    if tries >= REFUSE_AFTER:
        return UpstreamRefused(f"{exc} ({tries} attempts in a row)", 500, PERSISTENT_ERROR)
    return Repeating(f"{exc} (attempt {tries} of {REFUSE_AFTER} in a row before the share "
                     "is refused)", 500, SERVER_ERROR)


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

    async def post(self, body: str, key: str, *, item: OutboxItem) -> Saved:
        """``POST notebooks``; :class:`PostRefused` when it clearly created nothing.

        ``item``: the share's outbox row (its failures so far).
        """
        ...

    async def put(self, unit: WorkUnit, link: UpstreamLink, key: str) -> Saved:
        """``PUT notebooks/{id}``; :class:`UpstreamGone` when the copy must be made anew."""
        ...


async def post_with_session(client: UpstreamClient, tokens: TokenCache, body: str, *,
                            idempotency_key: str | None, hold: bool) -> Saved:
    """POST with the session token.

    A 401 or 403 (JE answers 403 to a bad, expired or forgotten token) drops the token
    and tries again with a new one, ``SESSION_TRIES`` times in all. A 400/413/422 is a
    refusal for good (:class:`UpstreamRefused`); any other 4xx a :class:`PostRefused`.
    A 500 gets one new token (JE answers 500 to a token it fails to process; with
    ``hold``, a hub's, the token is refreshed: the session owns our notebooks there);
    a 500 again is a :class:`PersistentServerError`.
    """
    reissued_for_500 = False
    for attempt in range(SESSION_TRIES):
        token = await tokens.session_bearer(hold_through_errors=hold)
        try:
            return await client.create(token, body, idempotency_key=idempotency_key)
        except UpstreamRejected as exc:
            status = exc.upstream_status
            if status in (401, 403) and attempt < SESSION_TRIES - 1:
                await tokens.drop_session(token)
                continue
            if status == 500 and reissued_for_500:
                raise PersistentServerError(f"{exc}, also with a new token", 500) from None
            if status == 500 and attempt < SESSION_TRIES - 1 \
                    and await tokens.reissue_session(token, keep_session=hold):
                reissued_for_500 = True
                continue
            refusal = refused(exc)
            if refusal is not None:
                raise refusal from None
            if 400 <= status < 500:
                raise PostRefused(str(exc), status) from None
            raise
    raise UpstreamRejected("POST notebooks refused the token", 403)  # pragma: no cover
