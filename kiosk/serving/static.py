"""The bundle's files over HTTP: negotiation, caching, ranges and zero-copy sends.

For each request: clean the path (anything odd is a 404), find it in the index,
pick the stored encoding the client accepts, answer conditional requests with 304,
honour ``Range`` on the identity form, then send: from memory for rewritten pages,
with ``sendfile`` for files on disk.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
from pathlib import Path
from typing import IO, Any

from aiohttp import hdrs, web

from kiosk import i18n
from kiosk.errors import BadRequest, NotFound
from kiosk.serving.index import BundleIndex, Entry, StoredForm
from kiosk.serving.lesson import lesson_for_language
from kiosk.serving.negotiate import choose_encoding
from kiosk.serving.pages import csp_for_origin
from kiosk.serving.schedule import PACER, PacedResponse, Pacer, head_bytes, send_paced
from kiosk.serving.site import api_base_url

# Files up to this size are read in one go in a thread; larger ones go out with sendfile.
SMALL_READ_BYTES = 64 * 1024

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def clean_path(raw: str) -> str:
    """The bundle-relative path a request names, or raise NotFound.

    ``raw`` is the percent-decoded path. Every way of stepping out of the bundle
    (``..``, ``.``, backslashes, NUL, encoded separators decoded into the name,
    leftover ``%`` from double encoding) is refused rather than interpreted.
    """
    if "\x00" in raw or "\\" in raw or "%" in raw:
        raise NotFound("no such file in the bundle")
    parts = raw.split("/")[1:] if raw.startswith("/") else raw.split("/")
    trailing = bool(parts) and parts[-1] == ""
    if trailing:
        parts = parts[:-1]
    if any(p in {"", ".", ".."} or p.startswith("~") for p in parts):
        raise NotFound("no such file in the bundle")
    return "/".join(parts) + ("/" if trailing and parts else "")


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison for If-None-Match (RFC 9110 §13.1.2)."""
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in header.split(","))


def _not_modified(request: web.Request, form: StoredForm, entry: Entry) -> bool:
    inm = request.headers.get(hdrs.IF_NONE_MATCH)
    if inm is not None:
        return _etag_matches(inm, form.etag)
    ims = request.if_modified_since
    return ims is not None and int(entry.mtime) <= ims.timestamp()


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One byte range as (start, count), or None to ignore the header and send it all.

    Malformed headers, other units and multi-range requests are ignored, as RFC 9110
    allows. Raises ValueError when the range cannot be satisfied (416).
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = (s.strip() for s in spec.partition("-"))
    well_formed = sep and (first.isdigit() or first == "") and (last.isdigit() or last == "")
    if not well_formed or (first == "" and last == ""):
        return None
    if size == 0:
        raise ValueError("empty file")
    if first == "":
        suffix = int(last)
        if suffix == 0:
            raise ValueError("empty suffix range")
        start = max(0, size - suffix)
        return start, size - start
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise ValueError("range starts past the end")
    return start, min(end, size - 1) - start + 1


class SendfileResponse(web.StreamResponse):
    """A response whose body is a slice of a file, sent with ``loop.sendfile``."""

    def __init__(self, form: StoredForm, offset: int, count: int, *,
                 pacer: Pacer | None = None, rel_path: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._form = form
        self._offset = offset
        self._count = count
        self._pacer = pacer
        self._rel_path = rel_path
        self.content_length = count

    async def prepare(self, request: web.BaseRequest) -> Any:
        loop = asyncio.get_running_loop()
        assert self._form.path is not None
        opening = loop.run_in_executor(None, self._form.path.open, "rb")
        try:
            fobj: IO[bytes] = await opening
        except asyncio.CancelledError:
            # The file may still open in the thread: close it when it does.
            opening.add_done_callback(_close_result)
            raise
        except OSError:
            # The bundle changed under us (deleted after a switch): say so plainly.
            raise NotFound("this file is no longer in the bundle; reload the page") from None
        try:
            writer = await super().prepare(request)
            if request.method == hdrs.METH_HEAD or self._count == 0:
                return writer
            transport = request.transport
            if transport is None:
                raise ConnectionResetError("connection lost")
            if self._pacer is None:
                await loop.sendfile(transport, fobj, self._offset, self._count)
            else:
                with self._pacer.open(request.remote or "", self._rel_path) as transfer:
                    await send_paced(transport, fobj, self._offset, self._count, transfer,
                                     header_bytes=head_bytes(self.headers))
            await super().write_eof()
            return writer
        finally:
            # Closing a read-only regular file does not block.
            fobj.close()


def _close_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _cache_headers(entry: Entry, form: StoredForm) -> dict[str, str]:
    headers: dict[str, str] = {
        hdrs.ETAG: form.etag,
        hdrs.LAST_MODIFIED: _http_date(entry.mtime),
        hdrs.CACHE_CONTROL: IMMUTABLE if entry.immutable else REVALIDATE,
    }
    if entry.encodings:
        headers[hdrs.VARY] = "Accept-Encoding"
    if entry.csp:
        headers["Content-Security-Policy"] = entry.csp
    return headers


TRANSLATION_PLUGIN = "@jupyterlab/translation-extension:plugin"


def rewrite_lite_config(entry: Entry, request: web.Request) -> bytes:
    """``jupyter-lite.json`` with the sharing API URL for the Host this request used."""
    assert entry.lite_config is not None
    config = json.loads(json.dumps(entry.lite_config))
    data = config.setdefault("jupyter-config-data", {})
    if not isinstance(data, dict):
        raise BadRequest("the bundle's jupyter-lite.json is malformed")
    data["sharing_service_api_url"] = api_base_url(request)
    # JupyterLab's own menus in the page's language (the student's choice, the teacher's
    # pin, else the browser's), from the language packs each bundle carries.
    language = i18n.request_language(request)
    overrides = data.setdefault("settingsOverrides", {})
    if isinstance(overrides, dict):
        plugin = overrides.setdefault(TRANSLATION_PLUGIN, {})
        if isinstance(plugin, dict):
            plugin["locale"] = i18n.JUPYTERLAB_LOCALES.get(language, "en")
    # The lesson of the day, else the bundle's lesson in that language (kiosk.serving.lesson).
    lesson = lesson_for_language(request.app, language)
    if lesson is not None:
        data["kioskLesson"] = lesson
    return (json.dumps(config, indent=2) + "\n").encode("utf-8")


async def send_entry(request: web.Request, entry: Entry) -> web.StreamResponse:
    """Answer a request for one indexed bundle file."""
    if entry.lite_config is not None:
        body = rewrite_lite_config(entry, request)
        digest = hashlib.sha256(body).hexdigest()
        form = StoredForm(len(body), f'"{digest[:32]}"', None, body=body)
        headers = _cache_headers(entry, form)
        headers[hdrs.VARY] = "Host, Accept-Language, Cookie"
    else:
        has_range = hdrs.RANGE in request.headers
        try:
            encoding = None if has_range else choose_encoding(
                request.headers.get(hdrs.ACCEPT_ENCODING), entry.encodings)
        except LookupError:
            raise web.HTTPNotAcceptable(text="no acceptable content encoding") from None
        form = entry.forms[encoding]
        headers = _cache_headers(entry, form)
    if form.encoding:
        headers[hdrs.CONTENT_ENCODING] = form.encoding
    headers[hdrs.CONTENT_TYPE] = entry.content_type
    if entry.csp:
        # The header itself (request.host would look the machine's name up if missing).
        origin = f"{request.scheme}://{request.headers.get(hdrs.HOST) or 'localhost'}"
        headers["Content-Security-Policy"] = csp_for_origin(entry.csp, origin)
    headers[hdrs.ACCEPT_RANGES] = "bytes" if form.encoding is None else "none"

    if _not_modified(request, form, entry):
        return web.Response(status=304, headers={k: v for k, v in headers.items()
                                                 if k != hdrs.CONTENT_TYPE})

    offset, count, status = 0, form.size, 200
    range_header = request.headers.get(hdrs.RANGE)
    if range_header and form.encoding is None:
        if_range = request.headers.get(hdrs.IF_RANGE)
        if if_range is None or if_range.strip() in {form.etag, headers[hdrs.LAST_MODIFIED]}:
            try:
                parsed = _parse_range(range_header, form.size)
            except ValueError:
                return web.Response(status=416, headers={
                    hdrs.CONTENT_RANGE: f"bytes */{form.size}",
                    hdrs.CACHE_CONTROL: REVALIDATE})
            if parsed is not None:
                offset, count = parsed
                status = 206
                headers[hdrs.CONTENT_RANGE] = f"bytes {offset}-{offset + count - 1}/{form.size}"

    pacer = request.app.get(PACER)
    if form.body is not None:
        body = form.body[offset:offset + count]
        return _body_response(pacer, entry.rel_path, status=status, body=body, headers=headers)
    if count <= SMALL_READ_BYTES and request.method != hdrs.METH_HEAD:
        # One trip to a thread beats sendfile's set-up for small files.
        assert form.path is not None
        try:
            data = await asyncio.to_thread(_read_slice, form.path, offset, count)
        except OSError:
            raise NotFound("this file is no longer in the bundle; reload the page") from None
        return _body_response(pacer, entry.rel_path, status=status, body=data, headers=headers)
    return SendfileResponse(form, offset, count, pacer=pacer, rel_path=entry.rel_path,
                            status=status, headers=headers)


def _body_response(pacer: Pacer | None, rel_path: str, **kwargs: Any) -> web.Response:
    """A response with its body in memory: paced when the kiosk schedules the class start."""
    if pacer is None:
        return web.Response(**kwargs)
    return PacedResponse(pacer=pacer, rel_path=rel_path, **kwargs)


def _read_slice(path: Path, offset: int, count: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(count)


def resolve(index: BundleIndex, raw_path: str) -> tuple[Entry | None, str | None]:
    """Find what a path names: (entry, None), or (None, redirect location), or NotFound."""
    rel = clean_path(raw_path)
    if rel.endswith("/") or rel == "":
        entry = index.lookup(rel + "index.html")
        if entry is None:
            raise NotFound("no such page in the bundle")
        return entry, None
    entry = index.lookup(rel)
    if entry is not None:
        return entry, None
    if rel in index.directories and index.lookup(rel + "/index.html") is not None:
        return None, "/" + rel + "/"
    raise NotFound("no such file in the bundle")
