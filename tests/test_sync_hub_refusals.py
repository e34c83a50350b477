"""A kiosk hub's refusals get the same answers as JE's: 400/413/422 park the share as
refused; a 500 gets a refreshed token (the same session: it owns what this kiosk made
there), and a 500 that comes back with it on ``REFUSE_AFTER`` attempts in a row parks
the share too; a reconnect does not reset the backoff of a share whose error repeats.

A classroom worker forwards to a real hub app (``create_app``) on loopback, with a real
SQLite file on each side. The hub's own code answers 413; a hub that fails inside with
500 cannot be made to happen on demand, so a middleware in front of its handlers answers
500 to ``POST``/``PUT notebooks`` while told to (``HubFaults``), and records every call.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kiosk.app import create_app
from kiosk.config import KioskConfig
from kiosk.errors import KioskError
from kiosk.sharing.keys import SHARING
from kiosk.sharing.store import ShareStore, UpdateGrant
from kiosk.sync import outbox
from kiosk.sync.tokens import SESSION_KEY
from kiosk.sync.upstream import PERSISTENT_ERROR, REFUSALS, REFUSE_AFTER
from kiosk.sync.worker import SyncWorker
from tests.sharing_helpers import make_notebook
from tests.sync_helpers import sync_store


@dataclass
class HubFaults:
    """Answers 500 to ``POST``/``PUT notebooks`` while asked; records (method, path, status)."""

    post_500: bool = False
    put_500: bool = False
    fail_next_posts: int = 0
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def count(self, method: str, path_start: str, status: int | None = None) -> int:
        return sum(1 for m, p, s in self.calls if m == method and p.startswith(path_start)
                   and (status is None or s == status))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path.removeprefix("/api/v1/")
        fail = ((request.method == "POST" and path == "notebooks"
                 and (self.post_500 or self.fail_next_posts > 0))
                or (request.method == "PUT" and path.startswith("notebooks/") and self.put_500))
        if fail:
            if request.method == "POST" and self.fail_next_posts > 0:
                self.fail_next_posts -= 1
            self.calls.append((request.method, path, 500))
            return web.json_response({"message": "Internal Server Error"}, status=500)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.calls.append((request.method, path, exc.status))
            raise
        except KioskError as exc:  # answered by the kiosk's error middleware, outside
            self.calls.append((request.method, path, exc.status))
            raise
        self.calls.append((request.method, path, response.status))
        return response


class _Ceiling(random.Random):
    """Backoff at its ceiling, so a kept backoff is seen (no jitter down to zero)."""

    def uniform(self, a: float, b: float) -> float:
        return b


@dataclass
class Room:
    hub: TestServer
    faults: HubFaults
    store: ShareStore
    worker: SyncWorker

    @property
    def hub_store(self) -> ShareStore:
        return self.hub.app[SHARING].store

    async def share(self, nb: dict[str, Any] | None = None) -> str:
        created = await self.store.create(json.dumps(nb or make_notebook()),
                                          owner_session="student")
        return created.share.id

    async def rounds(self, n: int) -> None:
        for _ in range(n):
            await self.worker.run_round()
            await asyncio.sleep(0.03)  # past the share's tiny backoff

    async def session_id(self) -> str:
        key = f"{SESSION_KEY}:{self.worker.base}"
        saved = await self.store.execute_read(lambda c: outbox.get_state(c, key))
        assert saved is not None
        return str(self.hub.app[SHARING].tokens.verify(json.loads(saved)["token"]).session_id)

    async def item(self, share_id: str) -> outbox.OutboxItem:
        unit = await self.store.execute_read(lambda c: outbox.load_unit(c, share_id))
        assert unit is not None
        return unit.item


async def _room(make_config: Callable[..., KioskConfig], tmp_path: Path, **settings: Any
                ) -> tuple[Room, Callable[[], Any]]:
    faults = HubFaults()
    app = create_app(make_config(data_dir=tmp_path / "hub", name="hub", max_notebook_mib=0.02))
    app.middlewares.append(faults.middleware)
    hub = TestServer(app, host="127.0.0.1")
    await hub.start_server()
    values: dict[str, Any] = {"sync_backoff_base": 0.01, "sync_backoff_max": 0.02}
    values.update(settings)
    rng = values.pop("rng", None)
    config = make_config(data_dir=tmp_path / "room",
                         upstream_url=f"http://127.0.0.1:{hub.port}/api/v1",
                         sync_enabled=True, upstream_kind="auto", **values)
    store = sync_store(tmp_path / "room.sqlite3")
    await store.start()
    worker = SyncWorker(config, store, rng=rng)
    await worker.start()

    async def close() -> None:
        await worker.stop()
        await store.close()
        await hub.close()

    return Room(hub, faults, store, worker), close


@pytest.fixture
async def room(make_config: Callable[..., KioskConfig], tmp_path: Path) -> AsyncIterator[Room]:
    made, close = await _room(make_config, tmp_path)
    try:
        yield made
    finally:
        await close()


async def test_a_post_the_hub_keeps_failing_is_refused_and_the_session_kept(room: Room) -> None:
    await room.share()
    await room.rounds(1)  # one share on the hub: the session exists
    session = await room.session_id()
    room.faults.post_500 = True
    sid = await room.share()
    await room.rounds(REFUSE_AFTER + 3)
    # Each attempt: the POST, a refreshed token, the POST again; then parked for good.
    assert room.faults.count("POST", "notebooks", 500) == 2 * REFUSE_AFTER
    assert room.faults.count("POST", "auth/refresh", 200) == REFUSE_AFTER
    assert room.faults.count("POST", "auth/issue") == 1  # never a new session
    assert await room.session_id() == session
    assert await room.worker.refusals([sid]) == {sid: PERSISTENT_ERROR}
    assert not await room.worker.is_queued(sid)
    # The student changes it: tried again at once, and it arrives.
    room.faults.post_500 = False
    await room.store.update(sid, json.dumps(make_notebook("x = 2")),
                            grant=UpdateGrant("student"))
    await room.rounds(1)
    assert await room.worker.refusals([sid]) == {}
    assert await room.worker.upstream_link(sid) is not None
    assert await room.hub_store.count() == 2


async def test_a_500_that_a_refreshed_token_cures_is_no_failure(room: Room) -> None:
    await room.share()
    await room.rounds(1)
    room.faults.fail_next_posts = 1
    sid = await room.share()
    await room.rounds(1)
    assert await room.worker.upstream_link(sid) is not None
    assert room.worker.status().retries == 0
    assert room.faults.count("POST", "auth/refresh", 200) == 1


async def test_a_put_the_hub_keeps_failing_is_refused(room: Room) -> None:
    sid = await room.share()
    await room.rounds(1)
    link = await room.worker.upstream_link(sid)
    assert link is not None and link.password == ""  # updates go by the session
    room.faults.put_500 = True
    await room.store.update(sid, json.dumps(make_notebook("y = 2")),
                            grant=UpdateGrant("student"))
    await room.rounds(REFUSE_AFTER + 3)
    assert room.faults.count("PUT", "notebooks/", 500) == 2 * REFUSE_AFTER
    assert await room.worker.refusals([sid]) == {sid: PERSISTENT_ERROR}
    # The copy on the hub is kept (its link still works), not shared anew.
    after = await room.worker.upstream_link(sid)
    assert after is not None and after.upstream_id == link.upstream_id
    assert await room.hub_store.count() == 1


async def test_a_notebook_too_large_for_the_hub_is_refused_once(room: Room) -> None:
    big = make_notebook()
    big["cells"][0]["source"] = "#" * 40_000  # over the hub's 0.02 MiB
    sid = await room.share(big)
    await room.rounds(4)
    assert room.faults.count("POST", "notebooks", 413) == 1  # not retried
    assert await room.worker.refusals([sid]) == {sid: REFUSALS[413]}
    # An update that grows too large: the PUT's 413 parks it too.
    small = await room.share()
    await room.rounds(1)
    await room.store.update(small, json.dumps(big), grant=UpdateGrant("student"))
    await room.rounds(4)
    assert room.faults.count("PUT", "notebooks/", 413) == 1
    assert await room.worker.refusals([small]) == {small: REFUSALS[413]}
    counts = await room.store.execute_read(outbox.counts)
    assert counts.refused == 2 and counts.queued == 0


async def test_a_reconnect_keeps_the_backoff_of_a_share_the_hub_fails(
        make_config: Callable[..., KioskConfig], tmp_path: Path) -> None:
    made, close = await _room(make_config, tmp_path, sync_backoff_base=60.0,
                              sync_backoff_max=300.0, rng=_Ceiling())
    try:
        made.faults.post_500 = True
        sid = await made.share()
        await made.worker.run_round()
        item = await made.item(sid)
        assert item.attempts == 1 and item.next_attempt_at > time.time() + 50
        posts = made.faults.count("POST", "notebooks")
        # The line drops and comes back (the next round's probe finds the hub again).
        made.worker.status().reachable = False
        await made.worker.run_round()
        assert (await made.item(sid)).next_attempt_at == item.next_attempt_at
        assert made.faults.count("POST", "notebooks") == posts  # not sent sooner
    finally:
        await close()
