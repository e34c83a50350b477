"""A stand-in for the Jupyter Everywhere sharing service that answers as v0.8.2 does.

Read from the service's public source (JupyterEverywhere/sharing-service, tag 0.8.2;
nothing copied): these are the answers the kiosk must cope with, where the older
``FakeJE`` of ``sync_helpers`` was kinder.

* Tokens are HS256 JWTs with ``sub`` (session), optional ``notebookId`` and ``exp``
  (120 minutes of ``now``). A bad signature, an expired token, or one signed with a
  key the service no longer has (:meth:`restart` with ``rotate_key``) → **403** from
  its JWT filter, on every route behind it.
* ``auth/refresh`` accepts only the one token it holds in memory for the session
  (lost by :meth:`restart`); anything else → **500** (an uncaught exception).
* ``auth/issue {notebookId, password}``: wrong password → 401; unknown notebook → **500**.
* ``PUT notebooks/{id}``: unknown id → **500**; another session without a token for
  that notebook → **500**; a bad notebook → 400; over the limit → 413.
* ``POST notebooks``: body that is not JSON → 400; no/invalid notebook → 422; over
  ``max_bytes`` → 413 (``Content-Length`` over 1.5 × the limit is refused before
  the token is even looked at).
* ``domain_id`` is the caller's address (``X-Forwarded-For``, else the peer).
* With ``extra_header`` set (name, value), a request without it → 403.
* ``post_500``: every POST fails inside the service (500), whatever the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLAIMS = web.RequestKey("je_claims", dict)
TOKEN_MINUTES = 120
MAX_BYTES = 10 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def add_je_routes(app: web.Application, service: Any) -> web.Application:
    """The sharing API's six routes under ``/api/v1``, answered by ``service``'s handlers
    of the same names (``health``, ``issue``, ``refresh``, ``create``, ``get``, ``update``).
    """
    p = "/api/v1"
    app.router.add_get(f"{p}/health", service.health)
    app.router.add_post(f"{p}/auth/issue", service.issue)
    app.router.add_post(f"{p}/auth/refresh", service.refresh)
    app.router.add_post(f"{p}/notebooks", service.create)
    app.router.add_get(f"{p}/notebooks/{{nid}}", service.get)
    app.router.add_put(f"{p}/notebooks/{{nid}}", service.update)
    return app


@dataclass
class JEStandIn:
    now: float = 1_700_000_000.0
    max_bytes: int = MAX_BYTES
    extra_header: tuple[str, str] | None = None
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    active: dict[str, str] = field(default_factory=dict)  # session → its one token
    notebooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    post_500: bool = False  # every POST notebooks fails inside JE (an uncaught exception)
    _counter: int = 0

    # ------------------------------------------------------------------ control

    def restart(self, *, rotate_key: bool = False) -> None:
        """The service restarted: its in-memory tokens are gone (and maybe its key)."""
        self.active.clear()
        if rotate_key:
            self.key = secrets.token_bytes(32)

    def count(self, method: str, path_start: str, status: int | None = None) -> int:
        return sum(1 for m, p, s in self.calls if m == method and p.startswith(path_start)
                   and (status is None or s == status))

    def app(self) -> web.Application:
        return add_je_routes(web.Application(client_max_size=64 * 1024 * 1024,
                                             middlewares=[self._record, self._filters]), self)

    # ------------------------------------------------------------------ tokens

    def _token(self, session: str, notebook: str | None) -> str:
        claims: dict[str, Any] = {"sub": session, "iat": int(self.now),
                                  "exp": int(self.now) + TOKEN_MINUTES * 60}
        if notebook is not None:
            claims["notebookId"] = notebook
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        sig = _b64(hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        token = f"{head}.{body}.{sig}"
        self.active[session] = token
        return token

    def _claims(self, token: str) -> dict[str, Any] | None:
        try:
            head, body, sig = token.split(".")
            want = hmac.new(self.key, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(sig), want):
                return None
            claims: dict[str, Any] = json.loads(_unb64(body))
        except ValueError:
            return None
        return claims if claims.get("exp", 0) > self.now else None

    # --------------------------------------------------------------- middleware

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            self.calls.append((request.method, request.path.removeprefix("/api/v1/"),
                               exc.status))
            raise
        self.calls.append((request.method, request.path.removeprefix("/api/v1/"),
                           response.status))
        return response

    @web.middleware
    async def _filters(self, request: web.Request, handler: Any) -> web.StreamResponse:
        length = request.content_length or 0
        if length > self.max_bytes * 1.5:
            raise web.HTTPRequestEntityTooLarge(max_size=self.max_bytes, actual_size=length)
        if self.extra_header is not None:
            name, value = self.extra_header
            if request.headers.get(name) != value:
                raise web.HTTPForbidden(text="Invalid authentication header")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer ") and auth[7:].strip():
            claims = self._claims(auth[7:].strip())
            if claims is None:
                raise web.HTTPForbidden(text="Invalid or expired JWT token")
            request[CLAIMS] = claims
        return await handler(request)

    def _session(self, request: web.Request) -> tuple[str, str | None]:
        claims = request.get(CLAIMS)
        if claims is None:
            raise web.HTTPForbidden()  # Spring Security: not authenticated
        return str(claims["sub"]), claims.get("notebookId")

    # ------------------------------------------------------------------ routes

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "UP"})

    async def issue(self, request: web.Request) -> web.Response:
        raw = await request.read()
        notebook = None
        if raw.strip():
            data = json.loads(raw)
            nid, password = data.get("notebookId"), data.get("password")
            nb = self.notebooks.get(nid)
            if nb is None:
                raise web.HTTPInternalServerError()  # NotebookNotFoundException, uncaught
            if nb["password"] is None or nb["password"] != password:
                return web.json_response({"token": "Invalid notebook ID or password"},
                                         status=401)
            notebook = nid
        return web.json_response({"token": self._token(str(uuid.uuid4()), notebook)})

    async def refresh(self, request: web.Request) -> web.Response:
        token = (await request.json()).get("token", "")
        claims = self._claims(token)
        if claims is None or self.active.get(claims["sub"]) != token:
            raise web.HTTPInternalServerError()  # TokenRefreshException, uncaught
        return web.json_response({"token": self._token(claims["sub"],
                                                       claims.get("notebookId"))})

    def _domain(self, request: web.Request) -> str:
        return request.headers.get("X-Forwarded-For") or request.remote or ""

    def _saved(self, nb: dict[str, Any], status: int) -> web.Response:
        return web.json_response({"message": "ok", "notebook": {
            "id": nb["id"], "domain_id": nb["domain_id"], "readable_id": nb["readable_id"]}},
            status=status)

    async def create(self, request: web.Request) -> web.Response:
        session, _ = self._session(request)
        if self.post_500:
            raise web.HTTPInternalServerError()
        raw = await request.read()
        try:
            data = json.loads(raw)
        except ValueError:
            raise web.HTTPBadRequest(text="Invalid notebook: not JSON") from None
        notebook = data.get("notebook") if isinstance(data, dict) else None
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise web.HTTPUnprocessableEntity(text="Invalid notebook format")
        if len(json.dumps(notebook).encode()) > self.max_bytes:
            raise web.HTTPRequestEntityTooLarge(max_size=self.max_bytes,
                                                actual_size=len(raw))
        self._counter += 1
        nb = {"id": str(uuid.uuid4()), "readable_id": f"je-notebook-{self._counter}",
              "owner": session, "password": data.get("password"), "content": notebook,
              "domain_id": self._domain(request)}
        self.notebooks[nb["id"]] = nb
        return self._saved(nb, 201)

    async def update(self, request: web.Request) -> web.Response:
        session, scoped = self._session(request)
        nb = self.notebooks.get(request.match_info["nid"])
        if nb is None:
            raise web.HTTPInternalServerError()  # NotebookNotFoundException, caught as 500
        if nb["owner"] != session and scoped != nb["id"]:
            raise web.HTTPInternalServerError()  # UnauthorizedNotebookAccessException
        try:
            content = json.loads(await request.read())
        except ValueError:
            raise web.HTTPBadRequest() from None
        if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
            raise web.HTTPBadRequest()
        if len(json.dumps(content).encode()) > self.max_bytes:
            raise web.HTTPRequestEntityTooLarge(max_size=self.max_bytes, actual_size=0)
        nb["content"] = content
        return self._saved(nb, 200)

    async def get(self, request: web.Request) -> web.Response:
        nb = self.notebooks.get(request.match_info["nid"])
        if nb is None:
            raise web.HTTPNotFound()
        return web.json_response({"id": nb["id"], "domain_id": nb["domain_id"],
                                  "readable_id": nb["readable_id"], "content": nb["content"]})
