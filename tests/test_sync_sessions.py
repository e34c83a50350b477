"""Sync to a hub kiosk without notebook passwords: the session owns, and is kept alive.

A classroom worker forwards to a real hub app on loopback. Notebooks reach the hub
with no password (no bcrypt on the hub per share); the stored session token is
refreshed while the hub answers, a server error never ends the session, and a
session the hub no longer accepts leads to the notebook being shared anew rather
than stuck. An upstream that does not say it is a kiosk still gets passwords.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from kiosk.app import create_app
from kiosk.config import KioskConfig
from kiosk.sharing.keys import SHARING
from kiosk.sharing.store import ShareStore, UpdateGrant
from kiosk.sync import outbox
from kiosk.sync.client import UpstreamRejected
from kiosk.sync.tokens import SESSION_KEY, TOKEN_RENEW_SECONDS, Token
from kiosk.sync.worker import SyncWorker
from tests.sharing_helpers import make_notebook
from tests.sync_helpers import FakeJE, api_url, serve_upstream, start_worker, sync_store

MINUTE = 60.0


@dataclass
class Room:
    """A classroom store and worker syncing to ``hub`` (a real kiosk app on loopback)."""

    hub: TestServer
    store: ShareStore
    worker: SyncWorker
    clock: list[float]

    @property
    def hub_store(self) -> ShareStore:
        return self.hub.app[SHARING].store

    async def drain(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            self.worker.sync_now()
            await self.worker.run_round()
            if self.worker.status().queued == 0:
                return
        raise AssertionError(f"not drained: {self.worker.status()}")

    async def stored_session(self) -> dict[str, Any]:
        key = f"{SESSION_KEY}:{self.worker.base}"
        saved = await self.store.execute_read(lambda c: outbox.get_state(c, key))
        assert saved is not None
        data: dict[str, Any] = json.loads(saved)
        return data


@pytest.fixture
async def room(make_config: Callable[..., KioskConfig], tmp_path: Path) -> AsyncIterator[Room]:
    hub = TestServer(create_app(make_config(data_dir=tmp_path / "hub", name="hub")),
                     host="127.0.0.1")
    await hub.start_server()
    config = make_config(data_dir=tmp_path / "room",
                         upstream_url=f"http://127.0.0.1:{hub.port}/api/v1",
                         sync_enabled=True, upstream_kind="auto", sync_backoff_base=0.01,
                         sync_backoff_max=0.05)
    store = sync_store(tmp_path / "room.sqlite3")
    await store.start()
    clock = [time.time()]  # real time: the hub's tokens expire by it
    worker = SyncWorker(config, store, clock=lambda: clock[0])
    await worker.start()
    try:
        yield Room(hub, store, worker, clock)
    finally:
        await worker.stop()
        await store.close()
        await hub.close()


async def test_a_hub_gets_no_password_and_updates_go_by_session(room: Room) -> None:
    nb = make_notebook("print(1)")
    created = (await room.store.create(json.dumps(nb), owner_session="student")).share
    await room.drain()
    assert room.worker.kind == "kiosk"
    link = await room.worker.upstream_link(created.id)
    assert link is not None and link.password == ""
    assert link.upstream_id is not None
    upstream = await room.hub_store.get(link.upstream_id)
    assert upstream is not None and upstream.password_hash is None  # no bcrypt on the hub

    nb["cells"][-1]["source"] = "print(2)"
    await room.store.update(created.id, json.dumps(nb), grant=UpdateGrant("student"))
    await room.drain()
    upstream = await room.hub_store.get(link.upstream_id)
    assert upstream is not None and "print(2)" in upstream.content
    after = await room.worker.upstream_link(created.id)
    assert after is not None
    assert (after.upstream_id, after.synced_version) == (link.upstream_id, 2)
    assert room.worker.status().retries == 0
    assert await room.hub_store.count() == 1


async def test_the_session_is_refreshed_while_idle_and_kept_on_server_errors(
        room: Room) -> None:
    await room.store.create(json.dumps(make_notebook()), owner_session="student")
    await room.drain()
    first = await room.stored_session()
    hub_tokens = room.hub.app[SHARING].tokens
    session = hub_tokens.verify(first["token"]).session_id

    # Nothing to send, but the token is old enough: a round renews it, same session.
    room.clock[0] += TOKEN_RENEW_SECONDS + MINUTE
    await room.worker.run_round()
    renewed = await room.stored_session()
    assert renewed["obtained_at"] == room.clock[0]
    assert hub_tokens.verify(renewed["token"]).session_id == session

    # A server error while refreshing is not a refusal: the session is kept for later.
    assert room.worker.client is not None
    real_refresh = room.worker.client.refresh

    async def broken_refresh(token: str) -> str:
        raise UpstreamRejected("auth/refresh answered 500", 500)

    room.worker.client.refresh = broken_refresh  # type: ignore[method-assign]
    room.clock[0] += TOKEN_RENEW_SECONDS + MINUTE
    await room.worker.run_round()
    assert await room.stored_session() == renewed
    room.worker.client.refresh = real_refresh  # type: ignore[method-assign]
    await room.worker.run_round()
    again = await room.stored_session()
    assert again["obtained_at"] == room.clock[0]
    assert hub_tokens.verify(again["token"]).session_id == session


@pytest.mark.parametrize("lost", ["other-session", "dead-token"])
async def test_a_session_the_hub_no_longer_accepts_shares_anew(room: Room, lost: str) -> None:
    nb = make_notebook("print('before')")
    created = (await room.store.create(json.dumps(nb), owner_session="student")).share
    await room.drain()
    old = await room.worker.upstream_link(created.id)
    assert old is not None and old.upstream_id is not None

    # The kiosk was away longer than the hub's token lifetime: its session is gone.
    if lost == "other-session":
        value = room.hub.app[SHARING].tokens.issue()  # valid, but not the owner: 403
    else:
        value = "not-a-token-the-hub-signed"  # 401, and refreshing it fails too
    assert room.worker.tokens is not None
    room.worker.tokens.session = Token(value, room.clock[0])

    nb["cells"][-1]["source"] = "print('after')"
    await room.store.update(created.id, json.dumps(nb), grant=UpdateGrant("student"))
    await room.drain()
    new = await room.worker.upstream_link(created.id)
    assert new is not None and new.upstream_id not in (None, old.upstream_id)
    assert new.synced_version == 2 and new.password == ""
    fresh = await room.hub_store.get(new.upstream_id)  # type: ignore[arg-type]
    assert fresh is not None and "print('after')" in fresh.content
    stale = await room.hub_store.get(old.upstream_id)
    assert stale is not None and "print('before')" in stale.content  # the old link still opens
    assert await room.hub_store.count() == 2


async def test_an_upstream_not_saying_kiosk_still_gets_passwords(
        make_config: Callable[..., KioskConfig], tmp_path: Path) -> None:
    fake = FakeJE()
    server = await serve_upstream(fake.app())
    # The teacher said "kiosk", but the health answer does not: send a password anyway.
    config = make_config(upstream_url=api_url(server), sync_enabled=True,
                         upstream_kind="kiosk")
    store, worker = await start_worker(config, tmp_path / "s.sqlite3", clock=lambda: fake.now)
    try:
        await store.create(json.dumps(make_notebook()), owner_session="s")
        worker.sync_now()
        await worker.run_round()
        (up,) = fake.notebooks.values()
        assert up["password"]
    finally:
        await worker.stop()
        await store.close()
        await server.close()
