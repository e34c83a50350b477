"""Sync to a stand-in of the Jupyter Everywhere service: tokens expire, passwords unlock."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestServer

from kiosk.sharing.store import UpdateGrant
from tests.sharing_helpers import make_notebook
from tests.sync_helpers import FakeJE, api_url, serve_upstream, start_worker

DAY = 86400.0


async def _je_worker(make_config, tmp_path, fake):
    server = await serve_upstream(fake.app())
    config = make_config(upstream_url=api_url(server), sync_enabled=True, upstream_kind="auto",
                         sync_backoff_base=0.01, sync_backoff_max=0.05)
    store, worker = await start_worker(config, tmp_path / "s.sqlite3", clock=lambda: fake.now)
    return server, store, worker


async def _drain(worker, rounds=20):
    for _ in range(rounds):
        worker.sync_now()
        await worker.run_round()
        if worker.status().queued == 0:
            return
    raise AssertionError(f"not drained: {worker.status()}")


async def test_je_updates_days_later_arrive_with_a_password_token(make_config, tmp_path):
    fake = FakeJE()
    server, store, worker = await _je_worker(make_config, tmp_path, fake)
    try:
        nb = make_notebook("print(1)")
        created = await store.create(json.dumps(nb), owner_session="student-1")
        await _drain(worker)
        assert worker.kind == "je"
        assert fake.posts == 1
        (up,) = fake.notebooks.values()
        assert up["content"]["cells"][-1]["source"] == "print(1)"
        assert up["password"]  # created with a password the kiosk keeps
        link = await worker.upstream_link(created.share.id)
        assert link is not None and link.upstream_readable_id == up["readable_id"]

        # Three days later (every token issued so far has expired) the student saves again.
        fake.now += 3 * DAY
        nb["cells"][-1]["source"] = "print(2)"
        await store.update(created.share.id, json.dumps(nb),
                           grant=UpdateGrant("student-1"))
        await _drain(worker)
        assert up["content"]["cells"][-1]["source"] == "print(2)"
        assert fake.posts == 1 and fake.puts == 1

        # A new share days later still gets a fresh session, and an update an hour on
        # reuses the cached notebook token.
        fake.now += 2 * DAY
        other = await store.create(json.dumps(make_notebook("print('b')")),
                                   owner_session="student-2")
        await _drain(worker)
        fake.now += 3600
        nb["cells"][-1]["source"] = "print(3)"
        await store.update(created.share.id, json.dumps(nb), grant=UpdateGrant("student-1"))
        await _drain(worker)
        assert up["content"]["cells"][-1]["source"] == "print(3)"
        assert fake.posts == 2
        assert (await worker.upstream_link(other.share.id)) is not None
        assert worker.status().possible_duplicates == 0
        assert "password" not in json.dumps(worker.status().as_json()).lower()
    finally:
        await worker.stop()
        await store.close()
        await server.close()


async def test_je_lost_post_answer_is_recorded_as_possible_duplicate(make_config, tmp_path):
    fake = FakeJE()
    server, store, worker = await _je_worker(make_config, tmp_path, fake)
    original = fake.create
    calls = {"n": 0}

    async def lose_first_answer(request):
        response = await original(request)
        calls["n"] += 1
        if calls["n"] == 1:
            request.transport.abort()  # created, but the kiosk never hears it
        return response

    fake.create = lose_first_answer
    server2 = TestServer(fake.app(), host="127.0.0.1", port=server.port)
    await server.close()
    await server2.start_server()
    try:
        await store.create(json.dumps(make_notebook()), owner_session="s")
        await _drain(worker)
        status = worker.status()
        assert fake.posts == 2  # JE has no idempotency key: one extra copy upstream
        assert status.possible_duplicates == 1
        assert status.retries >= 1
    finally:
        await worker.stop()
        await store.close()
        await server2.close()
