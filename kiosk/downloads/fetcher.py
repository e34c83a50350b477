"""Fetching a URL for a notebook: guarded, size-limited, cached, shared between students.

``Downloader.fetch(url)`` returns a cached file. When the kiosk is online it fetches
(at most once for a URL at a time, however many students ask, and not again while a
copy is younger than ``fresh_seconds``); when the internet cannot be reached it
falls back to the cached copy; with neither it raises a clear error. No cookies,
no client headers and no credentials are sent; every redirect is checked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.resolver import DefaultResolver

from kiosk import __version__
from kiosk.downloads.cache import CachedFile, DownloadCache
from kiosk.downloads.guard import GuardedResolver, check_host
from kiosk.errors import (
    BadRequest,
    Forbidden,
    GatewayTimeout,
    InsufficientStorage,
    KioskError,
    NotFound,
    PayloadTooLarge,
)

_LOGGER = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
#: Connections to the internet at once, for the whole kiosk (per client: see web.py).
CONNECTIONS = 64
#: While a download streams in, the room it needs is checked again every this many bytes.
_ROOM_STEP = 4 * 1024 * 1024


class NotAvailableOffline(KioskError):
    """The file is not in the cache and the internet cannot be reached."""

    status = 504
    code = "not_cached_offline"


def check_url(url: str) -> str:
    """Validate a URL a notebook asked for; return it normalised."""
    if len(url) > 2048:
        raise BadRequest("the URL is too long")
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"}:
        raise BadRequest("only http:// and https:// URLs can be downloaded")
    if not parts.hostname:
        raise BadRequest("the URL has no host")
    if parts.username or parts.password:
        raise BadRequest("URLs with a user name or password are not downloaded")
    return parts.geturl()


def is_kiosk_only(url: str) -> bool:
    """Whether ``url`` names a file kept on the kiosk only (a ``.invalid`` host)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return host == "invalid" or host.endswith(".invalid")


class Downloader:
    """Owns the HTTP client session and the cache; one per kiosk."""

    def __init__(self, cache: DownloadCache, *, max_bytes: int, allow_private: bool,
                 fresh_seconds: float = 300.0, request_seconds: float = 60.0) -> None:
        self.cache = cache
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self.fresh_seconds = fresh_seconds
        self._timeout = aiohttp.ClientTimeout(total=request_seconds, sock_connect=10)
        self._session: aiohttp.ClientSession | None = None
        self._inflight: dict[str, asyncio.Future[CachedFile]] = {}

    async def start(self) -> None:
        if self._session is None:
            resolver = GuardedResolver(DefaultResolver(), allow_private=self.allow_private)
            connector = aiohttp.TCPConnector(resolver=resolver, limit=CONNECTIONS,
                                             use_dns_cache=False)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                timeout=self._timeout, auto_decompress=True,
                headers={"User-Agent": f"jupyterlite-kiosk/{__version__}"})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str, *, refresh: bool = False) -> tuple[CachedFile, str]:
        """The file for ``url`` and how it was obtained: ``fresh``, ``cached`` or ``stale``.

        ``refresh=True`` (the teacher pre-loading a dataset) always downloads and never
        falls back to an older copy: a failure is raised, so the teacher learns of it.
        """
        url = check_url(url)
        if is_kiosk_only(url):
            # Files the teacher uploaded live under a name that exists nowhere else
            # (RFC 6761 `.invalid`): answered from the cache, never looked up in DNS.
            local = await asyncio.to_thread(self.cache.get, url)
            if local is None:
                raise NotFound(f"There is no file {url} on this kiosk.")
            return local, "cached"
        cached = None if refresh else await asyncio.to_thread(self.cache.get, url)
        if cached is not None and cached.age() < self.fresh_seconds:
            return cached, "cached"
        running = self._inflight.get(url)
        if running is None:
            running = asyncio.ensure_future(self._download(url))
            self._inflight[url] = running
            running.add_done_callback(lambda _: self._inflight.pop(url, None))
        try:
            return await asyncio.shield(running), "fresh"
        except (Forbidden, BadRequest, PayloadTooLarge, InsufficientStorage):
            raise
        except KioskError as exc:
            if cached is not None:
                _LOGGER.info("download of %s failed (%s); serving the cached copy", url,
                             exc.message)
                return cached, "stale"
            raise

    async def _download(self, url: str) -> CachedFile:
        await self.start()
        assert self._session is not None
        current = url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                host = urlsplit(current).hostname or ""
                await check_host(host, allow_private=self.allow_private)
                async with self._session.get(current, allow_redirects=False) as resp:
                    if resp.status in {301, 302, 303, 307, 308}:
                        location = resp.headers.get("Location")
                        if not location:
                            raise GatewayTimeout(f"{current} redirected nowhere")
                        current = check_url(urljoin(current, location))
                        continue
                    if resp.status != 200:
                        raise GatewayTimeout(f"the server answered {resp.status} for {current}")
                    declared = resp.content_length
                    if declared is not None and declared > self.max_bytes:
                        raise PayloadTooLarge(self._too_large())
                    ctype = resp.headers.get("Content-Type", "application/octet-stream")
                    return await self._save(url, resp, ctype)
            raise GatewayTimeout(f"too many redirects for {url}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise NotAvailableOffline(
                f"{url} is not saved on the kiosk and the internet cannot be reached "
                f"({type(exc).__name__}). Ask your teacher to add it while online."
            ) from None

    def _too_large(self) -> str:
        return (f"the file is larger than the kiosk's download limit of "
                f"{round(self.max_bytes / 1048576, 3):g} MiB (setting fetch_max_mib)")

    async def _room_for(self, url: str, size: int) -> None:
        if not await asyncio.to_thread(self.cache.make_room, size, keep=url):
            raise InsufficientStorage(
                "The kiosk has no room left for downloads: it keeps its free space for "
                "students' shared work. Ask your teacher to remove saved datasets.")

    async def _save(self, url: str, resp: aiohttp.ClientResponse, ctype: str) -> CachedFile:
        declared = resp.content_length
        await self._room_for(url, declared if declared is not None else _ROOM_STEP)
        temp = await asyncio.to_thread(self.cache.temp_path)
        fh: IO[bytes] = await asyncio.to_thread(temp.open, "wb")
        written = 0
        checked = declared if declared is not None else _ROOM_STEP
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                written += len(chunk)
                if written > self.max_bytes:
                    raise PayloadTooLarge(self._too_large())
                if written > checked:  # more than announced: check the room again
                    await self._room_for(url, _ROOM_STEP)
                    checked = written + _ROOM_STEP
                await asyncio.to_thread(fh.write, chunk)
            await asyncio.to_thread(fh.close)
            return await asyncio.to_thread(self.cache.commit, url, temp, ctype)
        finally:
            if not fh.closed:
                await asyncio.to_thread(fh.close)
            with contextlib.suppress(OSError):
                await asyncio.to_thread(_unlink_missing_ok, temp)


def _unlink_missing_ok(path: Path) -> None:
    path.unlink(missing_ok=True)
