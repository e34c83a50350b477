"""``GET /api/fetch?url=…``: downloads for notebooks through the kiosk's own origin."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from kiosk.config import KioskConfig
from kiosk.downloads.cache import DownloadCache
from kiosk.downloads.fetcher import Downloader
from kiosk.errors import BadRequest

DOWNLOADER = web.AppKey("downloader", Downloader)


def make_downloader(config: KioskConfig) -> Downloader:
    return Downloader(DownloadCache(config.data_path / "downloads"),
                      max_bytes=int(config.fetch_max_mib * 1048576),
                      allow_private=config.fetch_allow_private)


async def fetch_handler(request: web.Request) -> web.StreamResponse:
    url = request.query.get("url")
    if not url:
        raise BadRequest("add ?url=<the http or https address to download>")
    entry, how = await request.app[DOWNLOADER].fetch(url)
    return web.FileResponse(entry.body, headers={
        "Content-Type": entry.content_type,
        "Cache-Control": "no-store",
        "X-Kiosk-Download": how,
        "Content-Disposition": "inline",
    })


def setup_downloads(app: web.Application, config: KioskConfig) -> None:
    if not config.fetch_enabled:
        return
    app[DOWNLOADER] = make_downloader(config)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[DOWNLOADER].close()

    app.cleanup_ctx.append(ctx)
    app.router.add_get("/api/fetch", fetch_handler)
