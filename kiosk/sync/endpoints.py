"""The sync feature's web parts: status section, health check, admin and link routes.

* ``STATUS_SECTIONS["sync"]``: the worker's snapshot (no credentials: the upstream URL
  is shown without any user:password part, tokens and passwords never).
* ``HEALTH_CHECKS["sync"]``: fails when a notebook keeps failing while the upstream
  answers, or when something has waited in the outbox for over a day.
* ``POST /api/admin/sync/now`` (admin secret): forget backoffs, start a round now.
* ``GET /api/kiosk/shares/{id}/upstream``: a share's upstream link and its QR code,
  for the share dialog and the dashboard (the ``/api/v1`` answers keep JE's shapes).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

from aiohttp import web

from kiosk.errors import NotFound, Unauthorized
from kiosk.health import CheckResult
from kiosk.qr import qr_svg
from kiosk.sharing import ids
from kiosk.sharing.keys import SHARING
from kiosk.sharing.view import upstream_lab_url
from kiosk.sync.keys import SYNC_WORKER

STALE_SECONDS = 24 * 3600


def status_section(app: web.Application) -> dict[str, Any]:
    """``status["sync"]``."""
    return app[SYNC_WORKER].status().as_json()


async def health_check(app: web.Application) -> CheckResult:
    """Sync is healthy when off, or when nothing is stuck or stale in the outbox."""
    worker = app[SYNC_WORKER]
    if not worker.enabled:
        return CheckResult(True, {"enabled": False})
    counts = await worker.refresh_counts()
    status = worker.status()
    details = {"enabled": True, "reachable": status.reachable, "queued": counts.queued,
               "failing": counts.failing}
    oldest = counts.oldest_enqueued_at
    if oldest is not None and time.time() - oldest > STALE_SECONDS:
        hours = (time.time() - oldest) / 3600
        return CheckResult(False, details, f"sync: a share has waited {hours:.0f} h to reach "
                           f"the upstream ({status.last_error or 'no error recorded'})")
    if status.reachable and counts.failing and status.last_error:
        return CheckResult(False, details, f"sync: {counts.failing} share(s) failing while the "
                           f"upstream answers: {status.last_error}")
    return CheckResult(True, details)


async def sync_now(request: web.Request) -> web.Response:
    """``POST /api/admin/sync/now``: the teacher's "sync now"."""
    service = request.app[SHARING]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), service.admin_secret.encode()):
        raise Unauthorized("This needs the teacher's admin secret as 'Authorization: Bearer "
                           "<secret>'.", headers={"WWW-Authenticate": "Bearer"})
    worker = request.app[SYNC_WORKER]
    worker.sync_now()
    return web.json_response({"started": worker.enabled, "sync": worker.status().as_json()},
                             status=202)


async def share_upstream(request: web.Request) -> web.Response:
    """``GET /api/kiosk/shares/{ref}/upstream``: where a share lives upstream, if anywhere.

    Always: ``id``, ``readable_id``, ``version``, ``sync_enabled``, ``queued`` (waiting
    in the outbox: a new version is on its way), ``synced``, ``state`` (``refused``,
    ``queued``, ``synced`` or ``not-sent``), and with ``refused`` the ``reason`` in a
    student's words (the upstream will not take this version). Once
    synced: ``upstream_id``, ``upstream_readable_id``, ``synced_version``, ``synced_at``,
    ``up_to_date``, and ``url`` (the take-home link) with ``qr_svg``, or, when the
    upstream's public site is unknown (a self-hosted JE without ``upstream_site_url``),
    ``site_unknown: true`` and no link.
    A link made before sync was turned off is still shown (``synced`` stays true).
    """
    service = request.app[SHARING]
    ref = request.match_info["ref"]
    canonical = ids.parse_uuid(ref)
    share = (await service.store.get(canonical) if canonical
             else await service.store.get_by_readable_id(ref))
    if share is None:
        raise NotFound(f"There is no shared notebook '{ref}' on this kiosk.")
    worker = request.app[SYNC_WORKER]
    link = await worker.upstream_link(share.id)
    # The share dialog promises a take-home link only when sync is on and the share is
    # on its way (shares made before sync was turned on are not back-filled).
    queued = worker.enabled and await worker.is_queued(share.id)
    refused = (await worker.refusals([share.id])).get(share.id) if worker.enabled else None
    state = ("refused" if refused else "queued" if queued else
             "synced" if link is not None else "not-sent")
    body: dict[str, Any] = {"id": share.id, "readable_id": share.readable_id,
                            "version": share.version, "sync_enabled": worker.enabled,
                            "queued": queued, "synced": link is not None, "state": state}
    if refused:
        body["reason"] = refused
    if link is not None:
        assert link.upstream_id is not None
        body.update({"upstream_id": link.upstream_id,
                     "upstream_readable_id": link.upstream_readable_id,
                     "synced_version": link.synced_version, "synced_at": link.synced_at,
                     "up_to_date": link.synced_version >= share.version})
        site = worker.site_of(link.upstream, link.kind)
        if site is None:
            body["site_unknown"] = True  # a self-hosted JE without upstream_site_url
        else:
            url = upstream_lab_url(site, link.upstream_id, link.upstream_readable_id)
            body.update({"url": url, "qr_svg": await asyncio.to_thread(
                qr_svg, url, border=2, title="QR code of the take-home link")})
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/admin/sync/now", sync_now),
        web.get("/api/kiosk/shares/{ref}/upstream", share_upstream, allow_head=False),
    ]
