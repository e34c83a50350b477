"""The dashboard's routes: sign in and out, the overview, and the teacher's actions.

Every action is a POST from a dashboard form, needs a live session and passes the
CSRF checks of :mod:`kiosk.dashboard.csrf`, then answers with a redirect (303) to
``/admin`` and a fixed message code, so reloading never repeats an action.
"""

from __future__ import annotations

import asyncio
import datetime
import hmac
import re
import unicodedata

from aiohttp import web

from kiosk.bundle.active import set_current
from kiosk.bundle.catalog import built_bundles
from kiosk.dashboard import auth, csrf
from kiosk.dashboard.figures import gather_overview
from kiosk.dashboard.forms import checked_form
from kiosk.dashboard.keys import LOGIN_LIMITER, RECENT_CLIENTS, SESSIONS
from kiosk.dashboard.lesson import lesson_view
from kiosk.dashboard.pages import MESSAGES, TakeHomeLink, render_dashboard, render_login
from kiosk.dashboard.titles import TITLES, share_titles
from kiosk.errors import BadRequest, NotFound
from kiosk.i18n import N_
from kiosk.keys import CONFIG
from kiosk.qr import qr_svg
from kiosk.sharing import ids
from kiosk.sharing.export import export_shares
from kiosk.sharing.keys import SHARING, STORE
from kiosk.sharing.store import ShareSummary
from kiosk.sharing.view import upstream_lab_url
from kiosk.sync.keys import SYNC_WORKER
from kiosk.templating import page_response
from kiosk.urls import viewer_url

_NO_STORE = {"Cache-Control": "no-store"}
SHARES_SHOWN = 50

ERRORS = {
    "confirm": N_("Nothing was deleted: type CLEAR in the box to delete every share."),
    "sync-off": N_("Sync is off on this kiosk."),
    "bundle": N_("That bundle cannot be chosen; pick one from the list."),
}


def _page(text: str, status: int = 200) -> web.Response:
    return page_response(text, status=status, headers=_NO_STORE)


def _back(code: str, *, error: bool = False) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/admin?{'err' if error else 'msg'}={code}", headers=_NO_STORE)


async def take_home_links(app: web.Application,
                          shares: list[ShareSummary]) -> dict[str, TakeHomeLink]:
    """The links upstream of those ``shares`` that sync has sent (by share id).

    Read in one query whether or not sync is on now, like the ``/s/`` page; the QR
    codes are drawn in one thread trip.
    """
    refs = await app[SYNC_WORKER].upstream_refs([s.id for s in shares])
    synced = [(s, refs[s.id]) for s in shares if s.id in refs]
    if not synced:
        return {}

    def draw() -> dict[str, TakeHomeLink]:
        links = {}
        for share, ref in synced:
            label = ref.upstream_readable_id or ref.upstream_id
            up_to_date = ref.synced_version >= share.version
            if ref.site is None:  # sent, but the upstream's public site is unknown
                links[share.id] = TakeHomeLink(None, label, "", up_to_date)
                continue
            url = upstream_lab_url(ref.site, ref.upstream_id, ref.upstream_readable_id)
            links[share.id] = TakeHomeLink(
                url=url, label=label, qr_svg=qr_svg(url, border=2, title=f"QR code of {url}"),
                up_to_date=up_to_date)
        return links

    return await asyncio.to_thread(draw)


async def waiting_shares(app: web.Application, shares: list[ShareSummary]) -> set[str]:
    """Ids of those ``shares`` queued to go upstream (empty when sync is off)."""
    return await app[SYNC_WORKER].queued_among([s.id for s in shares])


async def dashboard(request: web.Request) -> web.Response:
    """``GET /admin``: the sign-in form without a session, else the dashboard."""
    config = request.app[CONFIG]
    session = auth.current_session(request, request.app[SESSIONS])
    message = MESSAGES.get(request.query.get("msg", ""))
    if session is None:
        return _page(render_login(request, kiosk_name=config.name,
                                  message=message if request.query.get("msg") ==
                                  "signed-out" else None))
    overview = await gather_overview(request.app, request.app[RECENT_CLIENTS].count())
    search = request.query.get("q", "").strip()[:200]
    store = request.app[STORE]
    shares = await store.list(search=search or None, limit=SHARES_SHOWN)
    matching = await store.count(search=search or None) if search else overview.shares_total
    lesson = await lesson_view(request.app)
    url = viewer_url(request)
    qr = await asyncio.to_thread(qr_svg, url, title=f"QR code for {url}")
    return _page(render_dashboard(
        request, overview, csrf=session.csrf, shares=shares, search=search, matching=matching,
        qr_svg=qr, join_url=url, sync_available=request.app[SYNC_WORKER].enabled,
        message=message, error=ERRORS.get(request.query.get("err", "")),
        take_home=await take_home_links(request.app, shares),
        waiting=await waiting_shares(request.app, shares),
        refused=await request.app[SYNC_WORKER].refusals([s.id for s in shares]),
        titles=await share_titles(request.app[TITLES], store, [*shares, *lesson.copies]),
        lesson=lesson))


async def login(request: web.Request) -> web.StreamResponse:
    """``POST /admin/login``: check the admin secret; set the session cookie."""
    csrf.check_origin(request)
    request.app[LOGIN_LIMITER].hit(request.remote or "unknown")
    form = await request.post()
    typed = form.get("secret")
    expected = request.app[SHARING].admin_secret
    if not isinstance(typed, str) or not hmac.compare_digest(typed.strip().encode(),
                                                             expected.encode()):
        return _page(render_login(request, kiosk_name=request.app[CONFIG].name,
                                  error=N_("That is not the admin secret.")), status=401)
    session = request.app[SESSIONS].create()
    response = web.HTTPSeeOther("/admin", headers=_NO_STORE)
    auth.set_session_cookie(response, request, session)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /admin/logout``: forget the session."""
    session, _ = await checked_form(request)
    request.app[SESSIONS].drop(session.id)
    response = _back("signed-out")
    auth.clear_session_cookie(response, request)
    raise response


async def delete_share(request: web.Request) -> web.StreamResponse:
    """``POST /admin/shares/{share_id}/delete``."""
    await checked_form(request)
    share_id = ids.parse_uuid(request.match_info["share_id"])
    if share_id is None or not await request.app[STORE].delete(share_id):
        raise NotFound("There is no such share (already deleted?).")
    raise _back("deleted")


async def clear_shares(request: web.Request) -> web.StreamResponse:
    """``POST /admin/shares/clear`` with ``confirm=CLEAR``: delete every share."""
    _, form = await checked_form(request)
    if form.get("confirm", "").strip() != "CLEAR":
        raise _back("confirm", error=True)
    await request.app[STORE].clear()
    raise _back("cleared")


def export_file_name(kiosk_name: str, day: datetime.date) -> str:
    """``lab-3-shares-2026-06-30.zip``: ASCII only, safe in a Content-Disposition."""
    ascii_name = unicodedata.normalize("NFKD", kiosk_name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-.") or "kiosk"
    return f"{stem[:40]}-shares-{day.isoformat()}.zip"


async def export_all(request: web.Request) -> web.StreamResponse:
    """``POST /admin/shares/export``: every share as a zip of notebooks, streamed.

    Nothing is deleted: the teacher clears with the "Delete all shares" form once the
    zip is safe (``kiosk shares export FILE --clear`` does both on the command line).
    """
    await checked_form(request)
    name = export_file_name(request.app[CONFIG].name, datetime.date.today())
    response = web.StreamResponse(headers={
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff", **_NO_STORE})
    await response.prepare(request)
    await export_shares(request.app[STORE], response.write)
    await response.write_eof()
    return response


async def sync_now(request: web.Request) -> web.StreamResponse:
    """``POST /admin/sync-now``: start a sync round now (an error when sync is off)."""
    await checked_form(request)
    worker = request.app[SYNC_WORKER]
    if not worker.enabled:
        raise _back("sync-off", error=True)
    worker.sync_now()  # forgets every backoff and starts a round
    raise _back("sync")


async def switch_bundle(request: web.Request) -> web.StreamResponse:
    """``POST /admin/bundle`` with ``bundle=<name>``: point ``current`` at another bundle.

    Only names of built bundles with a readable manifest are accepted; the running
    kiosk's watcher verifies and swaps it in within a few seconds.
    """
    _, form = await checked_form(request)
    name = form.get("bundle", "")
    bundles_dir = request.app[CONFIG].bundles_path
    choices = await asyncio.to_thread(built_bundles, bundles_dir)
    if name not in {b.name for b in choices if b.error is None}:
        raise BadRequest(ERRORS["bundle"])
    await asyncio.to_thread(set_current, bundles_dir, name)
    raise _back("switched")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin", dashboard, name="admin", allow_head=False),
        web.post("/admin/login", login, name="admin_login"),
        web.post("/admin/logout", logout, name="admin_logout"),
        web.post("/admin/shares/clear", clear_shares, name="admin_clear"),
        web.post("/admin/shares/export", export_all, name="admin_export"),
        web.post("/admin/shares/{share_id}/delete", delete_share, name="admin_delete"),
        web.post("/admin/sync-now", sync_now, name="admin_sync_now"),
        web.post("/admin/bundle", switch_bundle, name="admin_bundle"),
    ]
