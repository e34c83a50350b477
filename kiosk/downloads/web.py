"""``GET /api/fetch?url=…``: downloads for notebooks through the kiosk's own origin."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.downloads.cache import DownloadCache
from kiosk.downloads.fetcher import CONNECTIONS, Downloader
from kiosk.errors import BadRequest
from kiosk.ratelimit import ConcurrencyLimiter

DOWNLOADER = web.AppKey("downloader", Downloader)
FETCHES = web.AppKey("fetches", ConcurrencyLimiter)

#: Downloads one client address may wait for at once (a notebook reads one file at a
#: time; a few tabs): a student with slow servers cannot take every connection.
FETCHES_PER_CLIENT = 3
_MIB = 1048576


def make_downloader(config: KioskConfig) -> Downloader:
    # The cache never takes the room shares need: twice their free-space floor stays free.
    cache = DownloadCache(config.data_path / "downloads",
                          quota_bytes=int(config.fetch_cache_mib * _MIB),
                          reserve_bytes=int(2 * config.min_free_disk_mib * _MIB))
    return Downloader(cache, max_bytes=int(config.fetch_max_mib * _MIB),
                      allow_private=config.fetch_allow_private)


# A stranger's bytes served from the kiosk's origin must never run as the kiosk: no
# document (attachment, and a sandbox CSP if it is rendered anyway), no script or style
# (an inert type with nosniff), no embedding by another origin.
DOWNLOAD_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
_ACTIVE_TYPE_PARTS = ("html", "javascript", "ecmascript", "css", "svg", "x-shockwave",
                      "pdf", "wasm", "multipart", "jscript", "vbscript", "x-sh")
#: XML that a browser renders as a document (XHTML, SVG, XSLT through ``text/xml``):
#: ``/xml`` and ``+xml`` types, not office files whose names merely contain "xml"
#: (``application/vnd.openxmlformats-…``, which are zip archives).
_ACTIVE_XML = ("/xml", "+xml")


def inert_content_type(upstream: str) -> str:
    """The type a download is served with: the upstream's unless a browser could run it.

    Text that could be active (HTML, XML, SVG, JavaScript, CSS) becomes ``text/plain``
    with its charset, so ``requests``' ``.text`` still decodes it; other active types
    become ``application/octet-stream``.
    """
    essence, _, params = upstream.partition(";")
    essence = essence.strip().lower()
    if not essence or "/" not in essence or essence.endswith(_ACTIVE_XML) or any(
            part in essence for part in _ACTIVE_TYPE_PARTS):
        if essence.startswith("text/") or any(p in essence for p in ("xml", "javascript",
                                                                     "json", "ecmascript")):
            charset = [p.strip() for p in params.split(";") if p.strip().lower().startswith(
                "charset=")]
            return "text/plain" + (f"; {charset[0]}" if charset else "")
        return "application/octet-stream"
    return upstream


def download_headers(content_type: str) -> dict[str, str]:
    """Headers for any user-supplied bytes served from the kiosk's origin."""
    return {
        "Content-Type": inert_content_type(content_type),
        "Content-Disposition": "attachment",
        "Content-Security-Policy": DOWNLOAD_CSP,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "same-origin",
    }


async def fetch_handler(request: web.Request) -> web.StreamResponse:
    url = request.query.get("url")
    if not url:
        raise BadRequest("add ?url=<the http or https address to download>")
    with request.app[FETCHES].hold(request.remote or "unknown"):
        entry, how = await request.app[DOWNLOADER].fetch(url)
    return web.FileResponse(entry.body, headers={
        **download_headers(entry.content_type),
        "Cache-Control": "no-store",
        "X-Kiosk-Download": how,
    })


def setup_downloads(app: web.Application, config: KioskConfig) -> None:
    if not config.fetch_enabled:
        return
    app[DOWNLOADER] = make_downloader(config)
    app[FETCHES] = ConcurrencyLimiter(FETCHES_PER_CLIENT, CONNECTIONS, what="downloads")

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[DOWNLOADER].close()

    app.cleanup_ctx.append(ctx)
    app.router.add_get("/api/fetch", fetch_handler)
