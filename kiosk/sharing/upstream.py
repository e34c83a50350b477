"""What sharing asks of the capability that copies shares upstream (``kiosk.sync``).

Sharing cannot import sync (sync is built on sharing), so it declares here the one
interface it uses, :class:`UpstreamCopies`, and the typed key
:data:`UPSTREAM_COPIES` (also in :mod:`kiosk.sharing.keys`) under which sync provides it. Without it
(sync not wired in) sharing simply has no upstream: no pull-through, no take-home link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from kiosk.sharing.store import Share


@dataclass(frozen=True, slots=True)
class UpstreamRef:
    """A share's copy on the upstream: what its take-home link is made of."""

    upstream: str
    upstream_id: str
    upstream_readable_id: str | None
    synced_version: int
    kind: str | None = None
    """The upstream's kind when the copy was made (``"je"``, ``"kiosk"``)."""
    site: str | None = None
    """The public site its take-home link opens (None: unknown, so no link)."""


class UpstreamCopies(Protocol):
    """Sync's answers to sharing (``kiosk.sync.worker.SyncWorker`` implements it)."""

    async def pull(self, ref: str) -> Share | None:
        """A notebook this kiosk does not hold, from the upstream or its offline cache."""
        ...

    async def upstream_refs(self, share_ids: Sequence[str]) -> dict[str, UpstreamRef]:
        """Where these shares live upstream (those that arrived there), in one read."""
        ...


# Provided by kiosk.sync (always: an inert worker when sync is off); absent without it.
UPSTREAM_COPIES = web.AppKey[UpstreamCopies]("sharing_upstream_copies")


async def upstream_ref(app: web.Application, share_id: str) -> UpstreamRef | None:
    """Where one share lives upstream (None when not synced, or without sync)."""
    copies = app.get(UPSTREAM_COPIES)
    if copies is None:
        return None
    return (await copies.upstream_refs([share_id])).get(share_id)
