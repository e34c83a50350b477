"""``/api/v1``: the Jupyter Everywhere sharing API (``shared/docs/sharing-api.md``).

Handlers check, then call the store, then answer in exactly the JE shapes. Errors
are raised as :mod:`kiosk.errors` types; the middleware turns them into JSON.
Everything blocking (JSON parsing and nbformat validation of large bodies, bcrypt)
runs in a thread.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging

import bcrypt
from aiohttp import web

from kiosk import __version__
from kiosk.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from kiosk.sharing import ids
from kiosk.sharing.keys import SHARING
from kiosk.sharing.names import STUDENT_NAME_HEADER, parse_student_name
from kiosk.sharing.service import SharingService
from kiosk.sharing.store import IdempotencyKey, Share, UpdateGrant, WriteResult
from kiosk.sharing.tokens import TokenClaims, bearer_token
from kiosk.sharing.upstream import UPSTREAM_COPIES, UpstreamCopies
from kiosk.sharing.validate import (
    parse_json,
    parse_post_body,
    parse_put_body,
    too_large_message,
)
from kiosk.urls import API_PREFIX

_LOGGER = logging.getLogger(__name__)

PREFIX = API_PREFIX
# Room for the {"notebook": ..., "password": ...} wrapping around a notebook.
WRAPPER_SLACK = 64 * 1024
SMALL_BODY = 64 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
_BCRYPT_ROUNDS = 12


def _service(request: web.Request) -> SharingService:
    return request.app[SHARING]


def _client(request: web.Request) -> str:
    # Used only as an in-memory rate-limit key; never stored.
    return request.remote or "unknown"


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


def _require_json(request: web.Request) -> None:
    ctype = request.content_type
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise UnsupportedMediaType(
            f"Send the body as JSON with 'Content-Type: application/json' (got '{ctype}').")


async def read_body(request: web.Request, limit: int, *, message: str | None = None) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes without reading it all.

    A declared Content-Length is judged before a byte is read; a chunked body is read
    only up to the limit.
    """
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(message or too_large_message(length, limit))
    buf = bytearray()
    async for chunk in request.content.iter_chunked(256 * 1024):
        buf += chunk
        if len(buf) > limit:
            raise PayloadTooLarge(message or too_large_message(None, limit))
    return bytes(buf)


def _claims(request: web.Request) -> TokenClaims:
    return _service(request).tokens.verify(bearer_token(request.headers.get("Authorization")))


def _idempotency(request: web.Request, claims: TokenClaims, body: bytes) -> IdempotencyKey | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    # Printable ASCII only: aiohttp hands other bytes over as surrogate escapes,
    # which SQLite cannot store.
    if not 1 <= len(key) <= 200 or not (key.isascii() and key.isprintable()):
        raise BadRequest(f"{IDEMPOTENCY_HEADER} must be 1 to 200 printable ASCII characters.")
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return IdempotencyKey(claims.session_id, key, digest.hexdigest())


def _saved(service: SharingService, result: WriteResult, message: str) -> web.Response:
    share = result.share
    response = _json({
        "message": message,
        "notebook": {"id": share.id, "readable_id": share.readable_id,
                     "domain_id": service.domain_id},
    }, status=result.status)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _retrieved(service: SharingService, share: Share) -> web.Response:
    # The stored text goes out as it came in: no parse, no re-serialisation.
    head = json.dumps({"id": share.id, "domain_id": service.domain_id,
                       "readable_id": share.readable_id})
    return web.Response(text=f'{head[:-1]}, "content": {share.content}}}',
                        content_type="application/json")


async def _find(service: SharingService, ref: str, *,
                upstream: UpstreamCopies | None = None) -> Share:
    """A share by UUID or readable id; else, with ``upstream``, its copy pulled from there."""
    canonical = ids.parse_uuid(ref)
    share = (await service.store.get(canonical) if canonical
             else await service.store.get_by_readable_id(ref))
    if share is None and upstream is not None:
        # A link to the upstream's copy (?notebook=<upstream id>) opened on the kiosk.
        share = await upstream.pull(canonical or ids.normalize(ref))
    if share is None:
        raise NotFound(f"There is no shared notebook '{ref.strip()}' on this kiosk.")
    return share


# ---------------------------------------------------------------------------- handlers

async def health(request: web.Request) -> web.Response:
    """``GET health``: the service answers."""
    service = _service(request)
    return _json({
        "status": "OK",
        "message": "Sharing Service API is running",
        "service": "kiosk",
        "version": __version__,
        "domain_id": service.domain_id,
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    })


async def issue_token(request: web.Request) -> web.Response:
    """``POST auth/issue``: a token for a new session, or one unlocked by a password."""
    service = _service(request)
    service.issue_limiter.hit(_client(request))
    body = await read_body(request, SMALL_BODY)
    notebook_id: str | None = None
    if body.strip():
        _require_json(request)
        data = parse_json(body)
        if data is not None and not isinstance(data, dict):
            raise BadRequest("The body must be empty or {\"notebookId\", \"password\"}.")
        ref, password = (data or {}).get("notebookId"), (data or {}).get("password")
        if ref is not None or password is not None:
            if not isinstance(ref, str) or not isinstance(password, str):
                raise BadRequest("\"notebookId\" and \"password\" must both be strings.")
            notebook_id = await _unlock(service, ref, password)
    return _json({"token": service.tokens.issue(notebook_id=notebook_id)})


async def _unlock(service: SharingService, ref: str, password: str) -> str:
    wrong = Unauthorized("Invalid notebook ID or password.")
    try:
        share = await _find(service, ref)
    except NotFound:
        raise wrong from None
    if share.password_hash is None or len(password.encode()) > 72:
        raise wrong
    ok = await service.run_cpu(bcrypt.checkpw, password.encode(),
                               share.password_hash.encode())
    if not ok:
        raise wrong
    return share.id


async def refresh_token(request: web.Request) -> web.Response:
    """``POST auth/refresh``: a new token for the same session as a valid one."""
    service = _service(request)
    _require_json(request)
    data = parse_json(await read_body(request, SMALL_BODY))
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise BadRequest("The body must be {\"token\": \"<current token>\"}.")
    return _json({"token": service.tokens.refresh(token)})


async def create_notebook(request: web.Request) -> web.Response:
    """``POST notebooks``: share a notebook; 201 once it is safely on disk."""
    service = _service(request)
    claims = _claims(request)
    service.post_limiter.hit(_client(request))
    _require_json(request)
    await service.disk.check()
    limit = service.config.max_notebook_bytes
    body = await read_body(request, limit + WRAPPER_SLACK,
                           message=too_large_message(request.content_length, limit))
    parsed = await service.run_cpu(parse_post_body, body, limit)
    student_name = parse_student_name(request.headers.get(STUDENT_NAME_HEADER))
    password_hash = None
    if parsed.password:
        hashed = await service.run_cpu(bcrypt.hashpw, parsed.password.encode(),
                                       bcrypt.gensalt(_BCRYPT_ROUNDS))
        password_hash = hashed.decode()
    result = await service.store.create(
        parsed.notebook.text, owner_session=claims.session_id, name=parsed.notebook.name,
        password_hash=password_hash, student_name=student_name,
        idempotency=_idempotency(request, claims, body))
    _LOGGER.info("shared notebook %s (%s, %d bytes)", result.share.readable_id,
                 result.share.id, result.share.size)
    return _saved(service, result,
                  "Notebook uploaded, validated, and metadata stored successfully")


async def _update(request: web.Request, ref: str, *, by_readable_id: bool) -> web.Response:
    service = _service(request)
    claims = _claims(request)
    _require_json(request)
    await service.disk.check()
    limit = service.config.max_notebook_bytes
    body = await read_body(request, limit)
    notebook = await service.run_cpu(parse_put_body, body, limit)
    student_name = parse_student_name(request.headers.get(STUDENT_NAME_HEADER))
    result = await service.store.update(
        ref, notebook.text, grant=UpdateGrant(claims.session_id, claims.notebook_id),
        name=notebook.name, by_readable_id=by_readable_id, student_name=student_name,
        idempotency=_idempotency(request, claims, body))
    _LOGGER.info("updated notebook %s to version %d", result.share.readable_id,
                 result.share.version)
    return _saved(service, result, "Notebook updated successfully")


async def update_notebook(request: web.Request) -> web.Response:
    """``PUT notebooks/{id}``: replace a notebook this session shared (bare ipynb body)."""
    ref = request.match_info["notebook_id"]
    canonical = ids.parse_uuid(ref)
    if canonical is not None:
        return await _update(request, canonical, by_readable_id=False)
    return await _update(request, ids.normalize(ref), by_readable_id=True)


async def update_by_readable_id(request: web.Request) -> web.Response:
    """``PUT notebooks/update-by-readable-id/{readable_id}``."""
    return await _update(request, ids.normalize(request.match_info["readable_id"]),
                         by_readable_id=True)


async def get_notebook(request: web.Request) -> web.Response:
    """``GET notebooks/{id}`` (a readable id works too)."""
    service = _service(request)
    _claims(request)
    return _retrieved(service, await _find(service, request.match_info["notebook_id"],
                                           upstream=request.app.get(UPSTREAM_COPIES)))


async def get_by_readable_id(request: web.Request) -> web.Response:
    """``GET notebooks/get-by-readable-id/{readable_id}`` (trimmed, ``.ipynb`` ignored)."""
    service = _service(request)
    _claims(request)
    ref = request.match_info["readable_id"]
    share = await service.store.get_by_readable_id(ref)
    upstream = request.app.get(UPSTREAM_COPIES)
    if share is None and upstream is not None:
        share = await upstream.pull(ids.normalize(ref))
    if share is None:
        raise NotFound(f"There is no shared notebook '{ids.normalize(ref)}' on this kiosk.")
    return _retrieved(service, share)


# Cross-origin use (a frontend served from another origin): tokens travel in a header,
# never in cookies, so answering every origin gives a page no more than any LAN client has.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT",
    "Access-Control-Allow-Headers": ("Authorization, Content-Type, "
                                     f"{IDEMPOTENCY_HEADER}, {STUDENT_NAME_HEADER}"),
    "Access-Control-Max-Age": "600",
}


async def preflight(request: web.Request) -> web.Response:
    """``OPTIONS`` on any ``/api/v1`` path: the CORS preflight."""
    return web.Response(status=204, headers=CORS_HEADERS)


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: let cross-origin frontends read ``/api/v1`` answers."""
    if request.path.startswith(PREFIX + "/") and "Origin" in request.headers:
        response.headers.setdefault("Access-Control-Allow-Origin", "*")


def routes() -> list[web.RouteDef]:
    """The route table of ``/api/v1`` (kept equal to the OpenAPI document by a test)."""
    p = PREFIX
    return [
        web.options(f"{p}/{{tail:.*}}", preflight),
        web.get(f"{p}/health", health, allow_head=False),
        web.post(f"{p}/auth/issue", issue_token),
        web.post(f"{p}/auth/refresh", refresh_token),
        web.post(f"{p}/notebooks", create_notebook),
        web.get(f"{p}/notebooks/get-by-readable-id/{{readable_id}}", get_by_readable_id,
                allow_head=False),
        web.put(f"{p}/notebooks/update-by-readable-id/{{readable_id}}", update_by_readable_id),
        web.get(f"{p}/notebooks/{{notebook_id}}", get_notebook, allow_head=False),
        web.put(f"{p}/notebooks/{{notebook_id}}", update_notebook),
    ]
