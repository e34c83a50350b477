"""An ordinary client of the sharing API (``shared/docs/sharing-api.md``) for the sync worker.

It speaks to either kind of upstream: another kiosk (which honours ``Idempotency-Key``
on POST and PUT) or the Jupyter Everywhere service (which does not). Failures come
back as three kinds of :class:`~kiosk.errors.UpstreamError`, because what the
worker may safely do next depends on whether the request could have taken effect:

* :class:`UpstreamUnreachable`: the connection was never made; nothing happened.
* :class:`AnswerLost`: the request may have reached the server, but no answer came
  back (reset, timeout, truncated body). A POST may have created a notebook.
* :class:`UpstreamRejected`: the server answered with an error ``status``.

Tokens and passwords travel only in headers and bodies; no message here contains them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from kiosk.errors import UpstreamError
from kiosk.sharing import ids

_LOGGER = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
PROBE_TIMEOUT = 5.0


class UpstreamUnreachable(UpstreamError):
    """No connection to the upstream: the request was certainly not processed."""


class AnswerLost(UpstreamError):
    """The request was sent (maybe processed) but its answer never fully arrived."""


class UpstreamRejected(UpstreamError):
    """The upstream answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.upstream_status = status


@dataclass(frozen=True, slots=True)
class Saved:
    """A POST/PUT answer's ``notebook`` part."""

    id: str
    readable_id: str | None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A GET answer: the upstream's ids and the notebook as JSON text."""

    id: str
    readable_id: str | None
    content: str


def post_body(content: str, password: str) -> str:
    """The POST body around a notebook's exact JSON text (never re-serialised).

    An empty ``password`` is left out: the notebook then has none upstream.
    """
    if not password:
        return f'{{"notebook": {content}}}'
    return f'{{"notebook": {content}, "password": {json.dumps(password)}}}'


def safe_url(url: str) -> str:
    """``url`` without any user:password part (for logs and the status)."""
    try:
        parsed = URL(url)
    except ValueError:
        return "<invalid url>"
    return str(parsed.with_user(None).with_password(None))


class UpstreamClient:
    """Calls one upstream base URL (``.../api/v1``) over a shared ``ClientSession``."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, *,
                 timeout: float, extra_headers: dict[str, str] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self._session = session
        # Sent with every request (the JE service's optional extra authentication header).
        self._extra = dict(extra_headers or {})
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10))

    async def health(self) -> dict[str, Any]:
        """``GET health`` with a short timeout: the cheap connectivity probe."""
        timeout = aiohttp.ClientTimeout(total=min(PROBE_TIMEOUT, self._timeout.total or 5))
        status, data = await self._call("GET", "health", limit=timeout)
        if status != 200 or not isinstance(data, dict):
            raise UpstreamRejected(f"health answered {status}", status)
        return data

    async def issue(self, *, notebook_id: str | None = None,
                    password: str | None = None) -> str:
        """``POST auth/issue``: a session token, or one scoped to a notebook."""
        body = "" if notebook_id is None else json.dumps(
            {"notebookId": notebook_id, "password": password})
        status, data = await self._call("POST", "auth/issue", body=body)
        return self._token(status, data, "auth/issue")

    async def refresh(self, token: str) -> str:
        """``POST auth/refresh``: a new token for the same session."""
        status, data = await self._call("POST", "auth/refresh",
                                        body=json.dumps({"token": token}))
        return self._token(status, data, "auth/refresh")

    async def create(self, token: str, body: str, *, idempotency_key: str | None) -> Saved:
        """``POST notebooks`` with a body made by :func:`post_body`."""
        status, data = await self._call("POST", "notebooks", body=body, token=token,
                                        idempotency_key=idempotency_key)
        return self._saved(status, data, "POST notebooks", {200, 201})

    async def update(self, token: str, upstream_id: str, content: str, *,
                     idempotency_key: str | None) -> Saved:
        """``PUT notebooks/{id}`` with the bare notebook."""
        status, data = await self._call("PUT", f"notebooks/{quote(upstream_id)}", body=content,
                                        token=token, idempotency_key=idempotency_key)
        return self._saved(status, data, "PUT notebooks", {200})

    async def fetch(self, token: str, ref: str) -> Fetched | None:
        """``GET`` a notebook by UUID or readable id; None when the upstream has no such one."""
        canonical = ids.parse_uuid(ref)
        path = (f"notebooks/{canonical}" if canonical
                else f"notebooks/get-by-readable-id/{quote(ref.strip(), safe='')}")
        timeout = aiohttp.ClientTimeout(total=min(PROBE_TIMEOUT, self._timeout.total or 5))
        status, data = await self._call("GET", path, token=token, limit=timeout)
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict) or not isinstance(data.get("id"), str) \
                or not isinstance(data.get("content"), dict):
            raise UpstreamRejected(f"GET notebooks answered {status}", status)
        rid = data.get("readable_id")
        return Fetched(data["id"], rid if isinstance(rid, str) else None,
                       json.dumps(data["content"]))

    # ------------------------------------------------------------------ private

    @staticmethod
    def _token(status: int, data: Any, what: str) -> str:
        if status != 200 or not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise UpstreamRejected(f"{what} answered {status}", status)
        token: str = data["token"]
        return token

    @staticmethod
    def _saved(status: int, data: Any, what: str, ok: set[int]) -> Saved:
        if status not in ok:
            raise UpstreamRejected(f"{what} answered {status}", status)
        notebook = data.get("notebook") if isinstance(data, dict) else None
        if not isinstance(notebook, dict) or not isinstance(notebook.get("id"), str):
            raise AnswerLost(f"{what} answered {status} without a notebook id")
        rid = notebook.get("readable_id")
        return Saved(notebook["id"], rid if isinstance(rid, str) else None)

    async def _call(self, method: str, path: str, *, body: str | None = None,
                    token: str | None = None, idempotency_key: str | None = None,
                    limit: aiohttp.ClientTimeout | None = None) -> tuple[int, Any]:
        headers = {**self._extra, "Content-Type": "application/json",
                   "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        url = f"{self.base}/{path}"
        what = f"{method} {path.split('/', maxsplit=1)[0]}"
        try:
            async with self._session.request(
                    method, url, data=body.encode() if body is not None else None,
                    headers=headers, timeout=limit or self._timeout) as resp:
                raw = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamUnreachable(f"{what}: cannot connect ({exc.os_error})") from None
        except TimeoutError:
            raise AnswerLost(f"{what}: timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise AnswerLost(f"{what}: {type(exc).__name__}") from None
        if status >= 400:
            return status, None
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            raise AnswerLost(f"{what}: answered {status} with a body that is not JSON") from None
