"""Test doubles for sync: a stand-in for the Jupyter Everywhere service, a faulty proxy."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from kiosk.config import KioskConfig
from kiosk.sharing.store import ShareStore
from kiosk.sync import outbox
from kiosk.sync.worker import SyncWorker
from tests.je_standin import add_je_routes

TOKEN_LIFETIME = 120 * 60
_ADJ = ["brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively", "merry"]
_ANIMALS = ["otter", "panda", "quail", "robin", "seal", "tiger", "whale", "yak", "zebra", "lynx"]


@dataclass
class FakeJE:
    """The JE sharing service's rules, read from sharing-api.md, with a settable clock.

    Sessions own what they create; tokens are opaque and live 120 minutes of ``now``;
    ``auth/issue {notebookId, password}`` gives a token scoped to that notebook; a PUT
    from any other session gets a 500 (as the real service answers); the server picks
    ``readable_id`` in a predictable order; there is no idempotency key.
    """

    now: float = 1_700_000_000.0
    tokens: dict[str, tuple[str, str | None, float]] = field(default_factory=dict)
    notebooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: int = 0
    puts: int = 0
    _counter: int = 0

    def app(self) -> web.Application:
        app = add_je_routes(web.Application(), self)
        app.router.add_get("/api/v1/notebooks/get-by-readable-id/{rid}", self.get_rid)
        return app

    def _claims(self, request: web.Request) -> tuple[str, str | None]:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        entry = self.tokens.get(token)
        if entry is None or self.now - entry[2] > TOKEN_LIFETIME:
            raise web.HTTPUnauthorized()
        return entry[0], entry[1]

    def _new_token(self, session: str, notebook: str | None) -> str:
        token = secrets.token_hex(16)
        self.tokens[token] = (session, notebook, self.now)
        return token

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "OK", "message": "Sharing Service API is running"})

    async def issue(self, request: web.Request) -> web.Response:
        raw = await request.read()
        notebook = None
        if raw.strip():
            data = json.loads(raw)
            nid, pw = data.get("notebookId"), data.get("password")
            nb = self.notebooks.get(nid)
            if nb is None or nb["password"] is None or nb["password"] != pw:
                raise web.HTTPUnauthorized()
            notebook = nid
        return web.json_response({"token": self._new_token(str(uuid.uuid4()), notebook)})

    async def refresh(self, request: web.Request) -> web.Response:
        data = await request.json()
        entry = self.tokens.get(data.get("token", ""))
        if entry is None or self.now - entry[2] > TOKEN_LIFETIME:
            raise web.HTTPUnauthorized()
        return web.json_response({"token": self._new_token(entry[0], entry[1])})

    def _answer(self, nb: dict[str, Any], status: int, message: str) -> web.Response:
        return web.json_response({"message": message, "notebook": {
            "id": nb["id"], "readable_id": nb["readable_id"], "domain_id": "je.example"}},
            status=status)

    async def create(self, request: web.Request) -> web.Response:
        session, _ = self._claims(request)
        data = await request.json()
        if not isinstance(data.get("notebook"), dict) or "cells" not in data["notebook"]:
            raise web.HTTPUnprocessableEntity()
        self._counter += 1
        n = self._counter
        rid = f"{_ADJ[n % 10]}-{_ADJ[(n // 10) % 10]}-{_ANIMALS[(n // 100) % 10]}-{n}"
        nb = {"id": str(uuid.uuid4()), "readable_id": rid, "owner": session,
              "password": data.get("password"), "content": data["notebook"]}
        self.notebooks[nb["id"]] = nb
        self.posts += 1
        return self._answer(nb, 201, "Notebook uploaded")

    async def update(self, request: web.Request) -> web.Response:
        session, scoped = self._claims(request)
        nb = self.notebooks.get(request.match_info["nid"])
        if nb is None:
            raise web.HTTPNotFound()
        if nb["owner"] != session and scoped != nb["id"]:
            raise web.HTTPInternalServerError()  # what JE answers another session
        nb["content"] = await request.json()
        nb["owner"] = session  # JE records the updater as the owner
        self.puts += 1
        return self._answer(nb, 200, "Notebook updated")

    async def get(self, request: web.Request) -> web.Response:
        self._claims(request)
        nb = self.notebooks.get(request.match_info["nid"])
        if nb is None:
            raise web.HTTPNotFound()
        return web.json_response({"id": nb["id"], "domain_id": "je.example",
                                  "readable_id": nb["readable_id"], "content": nb["content"]})

    async def get_rid(self, request: web.Request) -> web.Response:
        self._claims(request)
        for nb in self.notebooks.values():
            if nb["readable_id"] == request.match_info["rid"]:
                return web.json_response({"id": nb["id"], "domain_id": "je.example",
                                          "readable_id": nb["readable_id"],
                                          "content": nb["content"]})
        raise web.HTTPNotFound()


@dataclass
class FaultStats:
    requests: int = 0
    forwarded: int = 0
    dropped: int = 0
    errors_500: int = 0
    timeouts: int = 0
    trickled: int = 0
    lost_answers: int = 0
    away_refused: int = 0

    def faults(self) -> int:
        return (self.dropped + self.errors_500 + self.timeouts + self.trickled
                + self.lost_answers + self.away_refused)


class FaultyProxy:
    """An HTTP proxy to ``target`` that misbehaves with probability ``rate``.

    Faults: drop the connection before forwarding; answer 500 without forwarding;
    forward, then hang past the client's timeout (the answer is lost); forward, then
    cut the answer off (lost answer); trickle the answer's body slowly; and "away"
    (every request dropped) while ``away`` is set.
    """

    KINDS = ("drop", "500", "timeout", "cut", "trickle")

    def __init__(self, target: str, *, rate: float = 0.3, seed: int = 7,
                 hang: float = 4.0) -> None:
        self.target = target.rstrip("/")
        self.rate = rate
        self.away = False
        self.hang = hang
        self._next_fault = 0
        self.stats = FaultStats()
        self._rng = random.Random(seed)
        self._session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _drop(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:  # None: the client has gone already
            request.transport.abort()
        return web.Response(status=500)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests += 1
        if self.away:
            self.stats.away_refused += 1
            return self._drop(request)
        fault = None
        if self.rate and self._rng.random() < self.rate:
            # Round robin, so that every kind of fault happens in a short test.
            fault = self.KINDS[self._next_fault % len(self.KINDS)]
            self._next_fault += 1
        if fault == "drop":
            self.stats.dropped += 1
            return self._drop(request)
        if fault == "500":
            self.stats.errors_500 += 1
            return web.Response(status=500, text="injected")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in {"host", "content-length", "transfer-encoding"}}
        assert self._session is not None
        async with self._session.request(request.method, self.target + request.path_qs,
                                         data=body, headers=headers) as upstream:
            answer = await upstream.read()
            status, ctype = upstream.status, upstream.content_type
        self.stats.forwarded += 1
        if fault == "timeout":
            self.stats.timeouts += 1
            await asyncio.sleep(self.hang)
            return self._drop(request)
        if fault == "cut":
            self.stats.lost_answers += 1
            return self._drop(request)
        if fault == "trickle":
            self.stats.trickled += 1
            resp = web.StreamResponse(status=status, headers={"Content-Type": ctype})
            resp.content_length = len(answer)
            await resp.prepare(request)
            for i in range(0, len(answer), max(1, len(answer) // 5)):
                await resp.write(answer[i:i + max(1, len(answer) // 5)])
                await asyncio.sleep(0.05)
            await resp.write_eof()
            return resp
        return web.Response(body=answer, status=status, content_type=ctype)


def sync_store(path: Path, *, queue_writes: bool = True) -> ShareStore:
    """A share store with sync's tables whose writes are queued, as with sync on."""
    store = ShareStore(path)
    outbox.attach(store, queue_writes=queue_writes)
    return store


async def serve_upstream(app: web.Application) -> TestServer:
    """Serve a stand-in upstream (``FakeJE().app()``, ``JEStandIn().app()``) on loopback;
    its sharing API is at :func:`api_url`. Close it with ``await server.close()``."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


def api_url(server: TestServer) -> str:
    """The ``upstream_url`` setting for a server from :func:`serve_upstream`."""
    return f"http://127.0.0.1:{server.port}/api/v1"


async def start_worker(config: KioskConfig, path: Path, *, clock: Callable[[], float],
                       rng: random.Random | None = None) -> tuple[ShareStore, SyncWorker]:
    """A started sync worker (with ``clock``, and ``rng`` for its backoff jitter) on a
    started :func:`sync_store` at ``path``."""
    store = sync_store(path)
    await store.start()
    worker = SyncWorker(config, store, clock=clock, rng=rng)
    await worker.start()
    return store, worker
