"""Datasets for a lesson, on the teacher's dashboard: ``/admin/datasets``.

Notebooks download files (``pd.read_csv(url)``, ``requests.get(url)``) through the
kiosk's ``/api/fetch``, which keeps a copy of each file in its download cache
(:mod:`kiosk.downloads`) so that the lesson also works offline. This page lets the
teacher manage that cache before class, like ``kiosk cache add`` does on the command
line:

* ``GET /admin/datasets``: the cached files with their address, type, size and date;
* ``POST /admin/datasets/add`` (``url``): download a file now, through the same guarded
  downloader students use (public internet addresses only, the size limit, redirects
  checked again), always fetching anew; a failure shows the page again with the
  reason and the typed address, with the error's HTTP status;
* ``POST /admin/datasets/upload`` (multipart ``file``): keep a CSV, XLSX or JSON file
  from the teacher's computer under an address notebooks can read
  (:mod:`kiosk.dashboard.uploads`);
* ``POST /admin/datasets/remove`` (``url``): forget a cached file.

Every route needs a dashboard session; the POSTs pass the dashboard's CSRF checks
(:mod:`kiosk.dashboard.csrf`) and, on success, redirect (303) back to the page with a
fixed message code, so reloading never repeats an action. The page has no script; its
template is ``dashboard/datasets.html``.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from kiosk.dashboard import auth, uploads
from kiosk.dashboard.forms import checked_form
from kiosk.dashboard.keys import SESSIONS
from kiosk.dashboard.pages import human_bytes
from kiosk.downloads import DOWNLOADER, make_downloader
from kiosk.downloads.cache import CachedFile, DownloadCache
from kiosk.errors import Forbidden, KioskError
from kiosk.i18n import N_
from kiosk.keys import CONFIG
from kiosk.templating import gettext_for, page_response, render

PATH = "/admin/datasets"
_NO_STORE = {"Cache-Control": "no-store"}

MESSAGES = {
    "added": N_("The dataset was downloaded and saved on the kiosk; notebooks that ask for "
                "its address now get this copy, also offline."),
    "removed": N_("The dataset was removed from the kiosk."),
    "uploaded": N_("The file was saved on the kiosk; notebooks read it by the address shown "
                   "in the list below (kiosk.invalid is the kiosk's own name for it)."),
}


def _cache(app: web.Application) -> DownloadCache:
    """The download cache, also when downloads are switched off (to list and remove)."""
    downloader = app.get(DOWNLOADER)
    if downloader is None:
        downloader = make_downloader(app[CONFIG])  # no session, no I/O: only its cache
    return downloader.cache


def _when(entry: CachedFile) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.fetched_at))


def render_datasets(request: web.Request, *, kiosk_name: str, csrf_token: str,
                    entries: list[CachedFile], fetch_enabled: bool, max_bytes: int,
                    typed_url: str = "", message: str | None = None,
                    error: str | None = None) -> str:
    """The datasets page (every value escaped by the template)."""
    _ = gettext_for(request).gettext
    rows = [{"url": e.url, "content_type": e.content_type, "size": e.size,
             "size_text": human_bytes(e.size, _), "fetched": int(e.fetched_at),
             "when": _when(e)} for e in entries]
    total = sum(e.size for e in entries)
    return render(request, "dashboard/datasets.html", name=kiosk_name, csrf=csrf_token,
                  path=PATH, entries=rows, fetch_enabled=fetch_enabled,
                  max_size=human_bytes(max_bytes, _), typed_url=typed_url, total=total,
                  total_text=human_bytes(total, _), message=message, error=error,
                  error_id="dataset-error", upload_accept=",".join(uploads.TYPES),
                  upload_example=f"{uploads.UPLOAD_BASE}weather.csv")


def _session(request: web.Request) -> auth.Session | None:
    return auth.current_session(request, request.app[SESSIONS])


async def _answer(request: web.Request, session: auth.Session, *, status: int = 200,
                  typed_url: str = "", error: str | None = None) -> web.Response:
    config = request.app[CONFIG]
    entries = await asyncio.to_thread(_cache(request.app).entries)
    entries.sort(key=lambda e: e.fetched_at, reverse=True)
    page = render_datasets(
        request, kiosk_name=config.name, csrf_token=session.csrf, entries=entries,
        fetch_enabled=DOWNLOADER in request.app,
        max_bytes=int(config.fetch_max_mib * 1048576), typed_url=typed_url,
        message=MESSAGES.get(request.query.get("msg", "")), error=error)
    return page_response(page, status=status, headers=_NO_STORE)


async def datasets_page(request: web.Request) -> web.Response:
    """``GET /admin/datasets``: the page; without a session, back to the sign-in."""
    session = _session(request)
    if session is None:
        raise web.HTTPSeeOther("/admin", headers=_NO_STORE)
    return await _answer(request, session)


async def add_dataset(request: web.Request) -> web.StreamResponse:
    """``POST /admin/datasets/add`` with ``url``: download it now and keep it."""
    session, form = await checked_form(request)
    url = form.get("url", "").strip()
    downloader = request.app.get(DOWNLOADER)
    if downloader is None:
        return await _answer(request, session, status=409, typed_url=url,
                             error=N_("Not added: downloads are off on this kiosk "
                                      "(setting fetch_enabled)."))
    if not url:
        return await _answer(request, session, status=400,
                             error=N_("Not added: type the address of the file first."))
    try:
        await downloader.fetch(url, refresh=True)
    except KioskError as exc:
        return await _answer(request, session, status=exc.status, typed_url=url,
                             error=gettext_for(request).gettext("Not added: %(reason)s")
                             % {"reason": exc.message})
    raise web.HTTPSeeOther(f"{PATH}?msg=added", headers=_NO_STORE)


async def upload_dataset(request: web.Request) -> web.StreamResponse:
    """``POST /admin/datasets/upload``: a CSV, XLSX or JSON file from the teacher."""
    session = uploads.require_session(_session(request))
    try:
        await uploads.upload_dataset(request, session)
    except Forbidden:
        raise
    except KioskError as exc:
        return await _answer(request, session, status=exc.status,
                             error=gettext_for(request).gettext("Not uploaded: %(reason)s")
                             % {"reason": exc.message})
    raise web.HTTPSeeOther(f"{PATH}?msg=uploaded", headers=_NO_STORE)


async def remove_dataset(request: web.Request) -> web.StreamResponse:
    """``POST /admin/datasets/remove`` with ``url``: delete the saved copy."""
    session, form = await checked_form(request)
    url = form.get("url", "")
    if not await asyncio.to_thread(_cache(request.app).remove, url):
        return await _answer(request, session, status=404,
                             error=N_("Nothing was removed: that dataset is not saved on "
                                      "the kiosk (already removed?)."))
    raise web.HTTPSeeOther(f"{PATH}?msg=removed", headers=_NO_STORE)


def routes() -> list[web.RouteDef]:
    return [
        web.get(PATH, datasets_page, name="admin_datasets", allow_head=False),
        web.post(f"{PATH}/add", add_dataset, name="admin_datasets_add"),
        web.post(f"{PATH}/remove", remove_dataset, name="admin_datasets_remove"),
        web.post(f"{PATH}/upload", upload_dataset, name="admin_datasets_upload"),
    ]
