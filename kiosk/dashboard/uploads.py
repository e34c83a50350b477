"""A dataset from the teacher's computer (a CSV on a USB stick), kept for notebooks.

``POST /admin/datasets/upload`` (multipart: the dashboard's ``csrf`` field and one
``file``) stores a CSV, XLSX or JSON file of at most the download limit
(``fetch_max_mib``) in the kiosk's download cache under the address
``https://kiosk.invalid/datasets/<name>``, so that a notebook reads it exactly like a
downloaded dataset, also offline: ``pd.read_csv("https://kiosk.invalid/datasets/
rain.csv")`` goes through ``/api/fetch``, which answers from the cache. ``.invalid``
is a name reserved never to exist on the internet (RFC 6761): nothing outside can
ever answer in the kiosk's place.

Checks, each with a clear answer and nothing stored on failure: a dashboard session
(403), the CSRF token and origin (403), downloads on (409), a file at all (400), its
size (413, read no further than the limit), its type by name *and* content: CSV must
be UTF-8 text, JSON must parse, XLSX must be an Office Open XML workbook (400).
Validation runs in a thread; the body is read in chunks as it arrives.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, web

from kiosk.dashboard import auth, csrf
from kiosk.downloads import DOWNLOADER
from kiosk.errors import BadRequest, Forbidden, KioskError, PayloadTooLarge
from kiosk.keys import CONFIG

#: where uploaded datasets live, for notebooks (a host that never resolves)
UPLOAD_BASE = "https://kiosk.invalid/datasets/"
#: accepted file types: suffix → Content-Type served to notebooks
TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FIELD_MAX = 1024
_NAME_MAX = 80


class NotAllowed(KioskError):
    """Uploading is impossible while downloads are off."""

    status = 409
    code = "fetch_disabled"


@dataclass(frozen=True, slots=True)
class Upload:
    """What the form sent: its fields and the file (name and bytes)."""

    fields: dict[str, str]
    file_name: str | None
    data: bytes


def dataset_url(file_name: str) -> str:
    """The address notebooks use for an uploaded file: plain ASCII, easy to type.

    ``Météo mai 2026.CSV`` becomes ``https://kiosk.invalid/datasets/Meteo-mai-2026.csv``.
    """
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_stem).strip("-_")[:_NAME_MAX] or "dataset"
    return UPLOAD_BASE + quote(f"{slug}.{suffix.lower()}" if suffix else slug)


def check_dataset(file_name: str, data: bytes) -> str:
    """The Content-Type to serve the file with; :class:`BadRequest` saying what is wrong.

    Blocking (parses the file): call it in a thread.
    """
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if suffix not in TYPES:
        raise BadRequest(f"{file_name!r} is not a CSV, XLSX or JSON file (by its name); "
                         "only those can be uploaded")
    if not data:
        raise BadRequest(f"{file_name!r} is empty")
    if suffix == ".csv":
        _check_csv(file_name, data)
    elif suffix == ".json":
        try:
            json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"{file_name!r} is not valid JSON ({exc})") from None
    else:
        _check_xlsx(file_name, data)
    return TYPES[suffix]


def _check_csv(file_name: str, data: bytes) -> None:
    if b"\x00" in data:
        raise BadRequest(f"{file_name!r} is not a text CSV file (it holds binary data)")
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest(f"{file_name!r} is not UTF-8 text: save it again as "
                         "\"CSV UTF-8\" (in Excel: File, Save As)") from None


def _check_xlsx(file_name: str, data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as workbook:
            names = set(workbook.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise BadRequest(f"{file_name!r} is not an Excel workbook (.xlsx)") from None
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise BadRequest(f"{file_name!r} is not an Excel workbook (.xlsx)")


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the file is larger than the kiosk's download limit of "
                           f"{round(max_bytes / 1048576, 3):g} MiB (setting fetch_max_mib)")


def _plain_name(name: str) -> str:
    """The file name as the teacher sees it: browsers send UTF-8, some clients %XX."""
    return unquote(name) if re.search(r"%[0-9A-Fa-f]{2}", name) else name


async def _read_part(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes, or None once it passes ``limit`` (reading no further)."""
    out = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        out.extend(chunk)
        if len(out) > limit:
            return None
    return bytes(out)


async def read_upload(request: web.Request, max_bytes: int) -> Upload:
    """The multipart form: small text fields and one file of at most ``max_bytes``."""
    if request.content_length is not None and request.content_length > max_bytes + 65536:
        raise too_large(max_bytes)
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise BadRequest("send the form as multipart/form-data") from None
    fields: dict[str, str] = {}
    file_name: str | None = None
    data = b""
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise BadRequest("unexpected nested multipart data")
        if part.name == "file" and part.filename is not None and file_name is None:
            body = await _read_part(part, max_bytes)
            if body is None:
                raise too_large(max_bytes)
            file_name, data = _plain_name(part.filename), body
            continue
        value = await _read_part(part, _FIELD_MAX)
        if value is None:
            raise BadRequest(f"the form field {part.name!r} is too long")
        if part.name:
            fields[part.name] = value.decode("utf-8", "replace")
    return Upload(fields, file_name, data)


async def upload_dataset(request: web.Request, session: auth.Session) -> str:
    """Check and store the uploaded file; return its address for notebooks.

    Raises :class:`KioskError` (status and message for the page) on any problem.
    """
    csrf.check_origin(request)
    config = request.app[CONFIG]
    max_bytes = int(config.fetch_max_mib * 1048576)
    upload = await read_upload(request, max_bytes)
    csrf.check_form(request, session, upload.fields.get(csrf.FIELD))
    downloader = request.app.get(DOWNLOADER)
    if downloader is None:
        raise NotAllowed("downloads are off on this kiosk (setting fetch_enabled): "
                         "notebooks could not read the file")
    if not upload.file_name:
        raise BadRequest("choose a file first")
    content_type = await asyncio.to_thread(check_dataset, upload.file_name, upload.data)
    url = dataset_url(upload.file_name)
    await asyncio.to_thread(downloader.cache.store_bytes, url, upload.data, content_type)
    return url


def require_session(session: auth.Session | None) -> auth.Session:
    if session is None:
        raise Forbidden("You are not signed in to the dashboard (or your session ended); "
                        "sign in again at /admin.")
    return session
