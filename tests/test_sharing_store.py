"""The SQLite share store on a real file: pragmas, migrations, writes, reads, search."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from kiosk import db as db_mod
from kiosk.errors import Conflict, Forbidden, KioskError, NotFound, StartupError
from kiosk.sharing import ids
from kiosk.sharing.schema import SHARING_SCHEMA
from kiosk.sharing.store import IdempotencyKey, ShareStore, UpdateGrant


@pytest.fixture
async def store(tmp_path):
    s = ShareStore(tmp_path / "shares.sqlite3")
    await s.start()
    yield s
    await s.close()


async def test_store_pragmas_and_schema(store):
    conn = store.db._write_conn
    assert await store.db.execute_write_fn(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0],
                              transaction=False) == "wal"
    assert await store.db.execute_write_fn(lambda c: c.execute("PRAGMA synchronous").fetchone()[0],
                              transaction=False) == 2  # FULL
    assert await store.db.execute_write_fn(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0],
                              transaction=False) == 1
    assert await store.db.execute_write_fn(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0],
                              transaction=False) == 5000
    assert await store.db.execute_write_fn(lambda c: c.execute("PRAGMA user_version").fetchone()[0],
                              transaction=False) == db_mod.SCHEMA_FORMAT
    assert await store.db.execute_fn(lambda c: c.execute(
        "SELECT version FROM schema_versions WHERE owner = 'sharing'").fetchone()[0]) == len(
        SHARING_SCHEMA.migrations)
    assert conn is store.db._write_conn
    assert await store.integrity_check() == "ok"


async def test_store_start_close_idempotent_and_persistent(tmp_path):
    path = tmp_path / "s.sqlite3"
    s = ShareStore(path)
    await s.start()
    await s.start()
    result = await s.create('{"a": 1}', owner_session="s1")
    await s.close()
    await s.close()
    s2 = ShareStore(path)
    await s2.start()
    got = await s2.get(result.share.id)
    assert got is not None and got.content == '{"a": 1}'
    await s2.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("kiosk-share-store")]


async def test_store_refuses_newer_schema(tmp_path):
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {db_mod.SCHEMA_FORMAT + 1}")
    s = ShareStore(path)
    with pytest.raises(StartupError, match="newer"):
        await s.start()
    await s.close()
    # A capability's own version newer than this code knows is refused too.
    path = tmp_path / "t.sqlite3"
    s = ShareStore(path)
    await s.start()
    await s.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_versions SET version = 99 WHERE owner = 'sharing'")
    s = ShareStore(path)
    with pytest.raises(StartupError, match="sharing schema version 99"):
        await s.start()
    await s.close()


async def test_store_readable_id_collision_retries(store, monkeypatch):
    draws = iter(["calm-brave-otter-111", "calm-brave-otter-111", "calm-brave-otter-222"])
    monkeypatch.setattr(ids, "new_readable_id", lambda: next(draws))
    first = await store.create("{}", owner_session="a")
    second = await store.create("{}", owner_session="a")
    assert first.share.readable_id == "calm-brave-otter-111"
    assert second.share.readable_id == "calm-brave-otter-222"


async def test_store_update_ownership(store):
    created = (await store.create("{}", owner_session="owner")).share
    with pytest.raises(Forbidden):
        await store.update(created.id, "{}", grant=UpdateGrant("intruder"))
    updated = await store.update(created.id, '{"v": 2}', grant=UpdateGrant("x", created.id))
    assert updated.share.version == 2 and updated.share.owner_session == "owner"
    updated = await store.update(created.readable_id, '{"v": 3}', grant=UpdateGrant("owner"),
                                 by_readable_id=True)
    assert updated.share.content == '{"v": 3}' and updated.share.version == 3
    with pytest.raises(NotFound):
        await store.update("nope", "{}", grant=UpdateGrant("owner"), by_readable_id=True)


async def test_store_lookup_by_readable_id_normalizes(store):
    share = (await store.create("{}", owner_session="a")).share
    for typed in (share.readable_id.upper(), f" {share.readable_id}.ipynb  "):
        got = await store.get_by_readable_id(typed)
        assert got is not None and got.id == share.id
    assert await store.get_by_readable_id("missing-one-fish-100") is None


async def test_store_list_search_delete_clear(store):
    a = (await store.create("{}", owner_session="a", name="Fractions homework")).share
    b = (await store.create("{}", owner_session="b", name="Turtle drawing 100%")).share
    assert await store.count() == 2
    assert [s.id for s in await store.list(search="fraction")] == [a.id]
    assert b.id in [s.id for s in await store.list(search=b.readable_id.upper())]
    assert [s.id for s in await store.list(search="100%")] == [b.id]
    assert await store.list(search="g%w") == []  # wildcards are literal
    assert await store.list(search="_") == []
    listed = await store.list()
    assert {s.id for s in listed} == {a.id, b.id}
    assert all(not hasattr(s, "content") for s in listed)
    assert await store.delete(a.id) is True
    assert await store.delete(a.id) is False
    assert await store.clear() == 1
    assert await store.count() == 0


async def test_store_retention_purge(store):
    old = (await store.create("{}", owner_session="a")).share
    await store.db.execute_write_fn(lambda c: c.execute(
        "UPDATE shares SET updated_at = 0 WHERE id = ?", (old.id,)))
    new = (await store.create("{}", owner_session="a")).share
    assert await store.purge_older_than(1000) == 1
    assert await store.get(old.id) is None and await store.get(new.id) is not None


async def test_store_idempotency(store):
    key = IdempotencyKey("session", "k1", "hash1")
    first = await store.create('{"a": 1}', owner_session="session", idempotency=key)
    again = await store.create('{"a": 1}', owner_session="session", idempotency=key)
    assert again.replayed and again.share.id == first.share.id
    with pytest.raises(Conflict):
        await store.create("{}", owner_session="session",
                           idempotency=IdempotencyKey("session", "k1", "other"))
    # Another session may use the same key for its own request.
    other = await store.create("{}", owner_session="s2",
                               idempotency=IdempotencyKey("s2", "k1", "hash1"))
    assert other.share.id != first.share.id
    assert await store.expire_idempotency_keys(now=10**12) == 2
    # Deleting a share forgets its keys (foreign key, cascade).
    await store.create("{}", owner_session="s3", idempotency=IdempotencyKey("s3", "k", "h"))
    await store.clear()
    assert await store.db.execute_fn(lambda c: c.execute(
        "SELECT count(*) FROM idempotency_keys").fetchone()[0]) == 0


async def test_store_concurrent_writes_and_reads(store):
    results = await asyncio.gather(*(store.create(f'{{"n": {i}}}', owner_session=str(i))
                                     for i in range(100)))
    assert len({r.share.id for r in results}) == 100
    assert len({r.share.readable_id for r in results}) == 100
    got = await asyncio.gather(*(store.get(r.share.id) for r in results))
    assert [g.content for g in got] == [f'{{"n": {i}}}' for i in range(100)]


async def test_store_not_started(tmp_path):
    s = ShareStore(tmp_path / "x.sqlite3")
    with pytest.raises(KioskError):
        await s.get("x")


async def test_store_files_private(store):
    for suffix in ("", "-wal", "-shm"):
        path = store.path.with_name(store.path.name + suffix)
        assert path.stat().st_mode & 0o777 == 0o600, path


async def test_store_group_commit_isolates_failures(store):
    owner = (await store.create("{}", owner_session="owner")).share
    stats = store.db.stats
    commits_before = stats.commits
    jobs = [store.create(f'{{"n": {i}}}', owner_session="x") for i in range(30)]
    jobs.insert(10, store.update(owner.id, "{}", grant=UpdateGrant("intruder")))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert isinstance(results[10], Forbidden)
    created = [r for i, r in enumerate(results) if i != 10]
    assert all(r.status == 201 for r in created)
    assert await store.count() == 31
    # Writes that queued together shared commits (fewer fsyncs than writes).
    assert stats.commits - commits_before < 31
    assert (await store.get(owner.id)).version == 1


async def test_service_retention_sweep_and_clean_shutdown(aiohttp_client, make_config):
    import time

    from kiosk.app import create_app
    from kiosk.sharing.keys import SHARING

    config = await asyncio.to_thread(make_config, retention_days=1)
    client = await aiohttp_client(create_app(config))
    service = client.app[SHARING]
    old = (await service.store.create("{}", owner_session="a")).share
    fresh = (await service.store.create("{}", owner_session="a")).share
    await service.store.db.execute_write_fn(lambda c: c.execute(
        "UPDATE shares SET updated_at = ? WHERE id = ?", (time.time() - 2 * 86400, old.id)))
    assert await service.sweep() == 1
    assert await service.store.get(old.id) is None
    assert await service.store.get(fresh.id) is not None
    await client.close()
    leftovers = [t.name for t in threading.enumerate()
                 if t.name.startswith("kiosk-share-store")]
    assert leftovers == []
