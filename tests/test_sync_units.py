"""Sync's pieces: the outbox in the store, backoff, the status, links, pull-through."""

from __future__ import annotations

import json
import random

from aiohttp.test_utils import TestClient, TestServer

from kiosk.app import create_app
from kiosk.cli import main
from kiosk.sharing.keys import SHARING
from kiosk.sharing.store import UpdateGrant
from kiosk.sync import outbox
from kiosk.sync.keys import SYNC_WORKER
from tests.sharing_helpers import make_notebook
from tests.sync_helpers import sync_store


async def _rows(store):
    return await store.execute_read(
        lambda c: c.execute("SELECT share_id, version, attempts FROM outbox").fetchall())


async def test_outbox_coalesces_updates_and_forgets_deletes(tmp_path):
    store = sync_store(tmp_path / "s.sqlite3")
    await store.start()
    try:
        a = (await store.create(json.dumps(make_notebook()), owner_session="s")).share
        b = (await store.create(json.dumps(make_notebook()), owner_session="s")).share
        for _ in range(3):
            await store.update(a.id, json.dumps(make_notebook("x")), grant=UpdateGrant("s"))
        rows = dict((r[0], r[1]) for r in await _rows(store))
        assert rows == {a.id: 4, b.id: 1}  # one row per notebook, latest version
        due = await store.execute_read(lambda c: outbox.due_items(c, 1e12, 10))
        assert [i.share_id for i in due] == [a.id, b.id]  # creation order kept
        # A version sent while a newer one was queued leaves the newer one queued.
        assert not await store.execute_write(lambda c: outbox.finish_item(c, a.id, 2))
        assert await store.execute_write(lambda c: outbox.finish_item(c, a.id, 4))
        await store.delete(b.id)
        assert await _rows(store) == []
    finally:
        await store.close()


async def test_nothing_is_queued_without_an_upstream(tmp_path):
    store = sync_store(tmp_path / "s.sqlite3", queue_writes=False)
    await store.start()
    try:
        share = (await store.create(json.dumps(make_notebook()), owner_session="s")).share
        await store.update(share.id, json.dumps(make_notebook()), grant=UpdateGrant("s"))
        assert await _rows(store) == []
    finally:
        await store.close()


def test_backoff_is_exponential_full_jitter_and_capped():
    rng = random.Random(1)
    for attempts, ceiling in [(1, 2), (2, 4), (3, 8), (10, 300), (200, 300)]:
        delays = [outbox.backoff_delay(attempts, 2, 300, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range
        assert min(delays) < ceiling * 0.2


async def test_retry_state_survives_a_restart(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = sync_store(path)
    await store.start()
    share = (await store.create(json.dumps(make_notebook()), owner_session="s")).share
    await store.execute_write(lambda c: outbox.fail_item(c, share.id, "boom", 60, 1000.0))
    await store.close()
    store = sync_store(path)
    await store.start()
    try:
        (item,) = await store.execute_read(lambda c: outbox.due_items(c, 1e12, 10))
        assert (item.attempts, item.next_attempt_at, item.last_error) == (1, 1060.0, "boom")
    finally:
        await store.close()


async def test_status_section_without_sync(make_config, aiohttp_client):
    client = await aiohttp_client(create_app(make_config()))
    status = await (await client.get("/api/kiosk/status")).json()
    assert status["sync"]["enabled"] is False
    health = await (await client.get("/healthz")).json()
    assert health["checks"]["sync"]["ok"] is True
    client.app[SYNC_WORKER].sync_now()  # inert, never raises


async def test_pull_through_caches_and_serves_offline(make_config, tmp_path, aiohttp_client):
    hub_app = create_app(make_config(data_dir=tmp_path / "hub", name="hub"))
    hub = TestServer(hub_app, host="127.0.0.1")
    hub_client = TestClient(hub)
    await hub_client.start_server()
    token = (await (await hub_client.post("/api/v1/auth/issue")).json())["token"]
    auth = {"Authorization": f"Bearer {token}"}
    nb = make_notebook("print('from the hub')")
    saved = await (await hub_client.post("/api/v1/notebooks", json={"notebook": nb},
                                         headers=auth)).json()
    hub_id, hub_rid = saved["notebook"]["id"], saved["notebook"]["readable_id"]

    room_config = make_config(
        data_dir=tmp_path / "room", upstream_url=f"http://127.0.0.1:{hub.port}/api/v1",
        sync_enabled=True, sync_timeout=2)
    room = await aiohttp_client(create_app(room_config))
    rtoken = (await (await room.post("/api/v1/auth/issue")).json())["token"]
    rauth = {"Authorization": f"Bearer {rtoken}"}
    try:
        got = await room.get(f"/api/v1/notebooks/{hub_id}", headers=rauth)
        assert got.status == 200
        body = await got.json()
        assert body["id"] == hub_id and body["readable_id"] == hub_rid
        assert body["content"]["cells"][-1]["source"] == "print('from the hub')"
        by_rid = await room.get(f"/api/v1/notebooks/get-by-readable-id/{hub_rid}",
                                headers=rauth)
        assert by_rid.status == 200
    finally:
        await hub_client.close()  # the hub goes away
    room.app[SYNC_WORKER].status().reachable = False
    offline = await room.get(f"/api/v1/notebooks/{hub_id}", headers=rauth)
    assert offline.status == 200
    assert (await offline.json())["content"]["cells"][-1]["source"] == "print('from the hub')"
    missing = await room.get("/api/v1/notebooks/no-such-notebook", headers=rauth)
    assert missing.status == 404


async def test_upstream_link_on_view_page_and_api(make_config, tmp_path, aiohttp_client):
    hub = TestServer(create_app(make_config(data_dir=tmp_path / "hub", name="hub")),
                     host="127.0.0.1")
    hub_client = TestClient(hub)
    await hub_client.start_server()
    config = make_config(data_dir=tmp_path / "room",
                         upstream_url=f"http://127.0.0.1:{hub.port}/api/v1",
                         sync_enabled=True, sync_interval=0.2)
    room = await aiohttp_client(create_app(config))
    try:
        token = (await (await room.post("/api/v1/auth/issue")).json())["token"]
        saved = await (await room.post("/api/v1/notebooks", json={"notebook": make_notebook()},
                                       headers={"Authorization": f"Bearer {token}"})).json()
        local = saved["notebook"]
        worker = room.app[SYNC_WORKER]
        await worker.run_round()
        link = await (await room.get(f"/api/kiosk/shares/{local['id']}/upstream")).json()
        assert link["synced"] and link["up_to_date"]
        assert link["url"].startswith(f"http://127.0.0.1:{hub.port}/lab/index.html?notebook=")
        assert link["qr_svg"].startswith("<svg")
        page = await (await room.get(f"/s/{local['readable_id']}")).text()
        assert link["upstream_readable_id"] in page and "To take home" in page
        status = (await (await room.get("/api/kiosk/status")).json())["sync"]
        assert status["synced"] == 1 and status["kind"] == "kiosk"
        # sync now needs the admin secret
        assert (await room.post("/api/admin/sync/now")).status == 401
        secret = (tmp_path / "room" / "admin-secret").read_text().strip()
        now = await room.post("/api/admin/sync/now",
                              headers={"Authorization": f"Bearer {secret}"})
        assert now.status == 202
    finally:
        await hub_client.close()


def test_cli_sync_status_reads_the_store(make_config, tmp_path, capsys):
    data = tmp_path / "cli"
    assert main(["sync", "status", "--data-dir", str(data), "--port", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["queued"] == 0 and out["enabled"] is False
    assert main(["sync", "now", "--data-dir", str(data), "--port", "1"]) == 2


async def test_upstream_endpoint_says_whether_a_share_is_on_its_way(make_config, tmp_path,
                                                                    aiohttp_client):
    # A share made while sync was off is not back-filled: no take-home link is promised.
    data = tmp_path / "room"
    before = create_app(make_config(data_dir=data))
    client = await aiohttp_client(before)
    old = (await client.app[SHARING].store.create(json.dumps(make_notebook()),
                                                   owner_session="s")).share
    off = await (await client.get(f"/api/kiosk/shares/{old.id}/upstream")).json()
    assert (off["sync_enabled"], off["queued"], off["synced"]) == (False, False, False)
    await client.close()

    # Sync on, towards an upstream nobody answers (discard port on loopback).
    config = make_config(data_dir=data, sync_enabled=True,
                         upstream_url="http://127.0.0.1:9/api/v1", sync_timeout=1)
    client = await aiohttp_client(create_app(config))
    store = client.app[SHARING].store
    info = await (await client.get(f"/api/kiosk/shares/{old.readable_id}/upstream")).json()
    assert (info["sync_enabled"], info["queued"], info["synced"]) == (True, False, False)
    new = (await store.create(json.dumps(make_notebook()), owner_session="s")).share
    info = await (await client.get(f"/api/kiosk/shares/{new.id}/upstream")).json()
    assert (info["sync_enabled"], info["queued"], info["synced"]) == (True, True, False)
    assert "url" not in info
    # Changing the old share queues it too.
    await store.update(old.id, json.dumps(make_notebook("x")), grant=UpdateGrant("s"))
    info = await (await client.get(f"/api/kiosk/shares/{old.id}/upstream")).json()
    assert info["queued"] is True
    missing = await client.get("/api/kiosk/shares/no-such-share/upstream")
    assert missing.status == 404
