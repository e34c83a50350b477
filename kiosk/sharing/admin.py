"""The teacher's share management: list, search, delete, clear (``/api/admin/shares``).

Authenticated by the admin secret (``kiosk admin secret`` prints it) sent as
``Authorization: Bearer <secret>``; the dashboard issue adds a cookie session on top.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from kiosk.errors import BadRequest, NotFound, Unauthorized
from kiosk.sharing import ids
from kiosk.sharing.keys import SHARING
from kiosk.sharing.service import SharingService
from kiosk.sharing.store import ShareSummary

PREFIX = "/api/admin"
MAX_LIMIT = 500


def _authorized(request: web.Request) -> SharingService:
    service = request.app[SHARING]
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), service.admin_secret.encode()):
        raise Unauthorized("This needs the teacher's admin secret as 'Authorization: Bearer "
                           "<secret>' (run 'kiosk admin secret' on the kiosk to see it).",
                           headers={"WWW-Authenticate": "Bearer"})
    return service


def summary_json(share: ShareSummary, service: SharingService) -> dict[str, Any]:
    """A share as the admin API lists it (no content, no owner, no client data)."""
    return {
        "id": share.id,
        "readable_id": share.readable_id,
        "name": share.name,
        "version": share.version,
        "size": share.size,
        "created_at": share.created_at,
        "updated_at": share.updated_at,
        "has_password": share.has_password,
        "view_url": f"/s/{share.readable_id}",
        "lab_url": f"/lab/index.html?notebook={share.readable_id}",
        "domain_id": service.domain_id,
    }


def _int_param(request: web.Request, name: str, default: int, top: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number.") from None
    if not 0 <= value <= top:
        raise BadRequest(f"'{name}' must be between 0 and {top}.")
    return value


async def list_shares(request: web.Request) -> web.Response:
    """``GET /api/admin/shares?search=&limit=&offset=``: newest change first."""
    service = _authorized(request)
    search = request.query.get("search") or None
    limit = _int_param(request, "limit", 100, MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 10**9)
    shares = await service.store.list(search=search, limit=limit, offset=offset)
    total = await service.store.count(search=search)
    return web.json_response({"shares": [summary_json(s, service) for s in shares],
                              "total": total, "limit": limit, "offset": offset})


async def delete_share(request: web.Request) -> web.Response:
    """``DELETE /api/admin/shares/{id}`` (a UUID or a readable id): 204 or 404."""
    service = _authorized(request)
    ref = request.match_info["share_id"]
    share_id = ids.parse_uuid(ref)
    if share_id is None:
        found = await service.store.get_by_readable_id(ref)
        share_id = found.id if found else None
    if share_id is None or not await service.store.delete(share_id):
        raise NotFound(f"There is no shared notebook '{ref}'.")
    return web.Response(status=204)


async def clear_shares(request: web.Request) -> web.Response:
    """``POST /api/admin/shares/clear`` with ``{"confirm": true}``: delete every share."""
    service = _authorized(request)
    try:
        data = json.loads(await request.read() or b"null")
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict) or data.get("confirm") is not True:
        raise BadRequest("To delete every share, send {\"confirm\": true}.")
    deleted = await service.store.clear()
    return web.json_response({"deleted": deleted})


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{PREFIX}/shares", list_shares, allow_head=False),
        web.post(f"{PREFIX}/shares/clear", clear_shares),
        web.delete(f"{PREFIX}/shares/{{share_id}}", delete_share),
    ]
