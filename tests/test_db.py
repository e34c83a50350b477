"""The kiosk's SQLite engine (kiosk.db) on real files: old data directories, per-capability
schemas, commit notifications of cancelled callers, batch reads on the dashboard.

``fixtures/schema_4ab9567.sql`` is the schema exactly as the code of commit 4ab9567 wrote
it (one ``PRAGMA user_version`` counting the migrations of sharing and sync together);
a file made with it, holding a row in every table, must open with every row intact.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kiosk import db as db_mod
from kiosk.app import create_app
from kiosk.db import Database, Schema
from kiosk.errors import Forbidden, StartupError
from kiosk.sharing.keys import STORE
from kiosk.sharing.schema import SHARING_SCHEMA
from kiosk.sharing.store import IdempotencyKey, ShareStore, UpdateGrant
from kiosk.sync import outbox
from kiosk.sync.keys import SYNC_WORKER
from kiosk.sync.schema import SYNC_SCHEMA
from tests.sync_helpers import sync_store
from tests.test_dashboard_auth import add_share, sign_in

FIXTURE = Path(__file__).parent / "fixtures" / "schema_4ab9567.sql"
TABLES = ("shares", "idempotency_keys", "outbox", "upstream_links", "pulled", "sync_state")


def _old_migrations() -> list[list[str]]:
    migrations: list[list[str]] = []
    for block in FIXTURE.read_text().split("-- migration ")[1:]:
        body = block.split("\n", 1)[1]
        migrations.append([s.strip() for s in body.split(";") if s.strip()
                           and not s.strip().startswith("--")])
    return migrations


def _old_database(path: Path, migrations: int) -> None:
    """A file as the code of 4ab9567 left it after ``migrations`` migrations, with rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for number, statements in enumerate(_old_migrations()[:migrations], 1):
        conn.execute("BEGIN")
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    conn.execute("INSERT INTO shares VALUES ('id-1', 'calm-otter-1', 3, 'sess', 'hash', "
                  "'Homework.ipynb', 9, 1.0, 2.0, '{\"a\": 1}')")
    conn.execute("INSERT INTO idempotency_keys VALUES ('sess', 'k', 'h', 'id-1', 201, ?)",
                 (time.time(),))
    if migrations >= 2:
        conn.execute("INSERT INTO outbox VALUES ('id-1', 3, 1.5, 2, 99.0, 'boom')")
        conn.execute("INSERT INTO upstream_links (share_id, upstream, kind, upstream_id, "
                     "upstream_readable_id, password, synced_version) VALUES "
                     "('id-1', 'http://up/api/v1', 'je', 'up-1', 'brave-yak-2', 'pw', 2)")
        conn.execute("INSERT INTO pulled VALUES ('ref', 'up-9', 'rid', '{}', 5.0)")
        conn.execute("INSERT INTO sync_state VALUES ('kiosk_id', 'abc')")
    conn.close()


def _dump(path: Path, tables: tuple[str, ...]) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}
    finally:
        conn.close()


def _assert_kept(before: dict[str, list[tuple[object, ...]]],
                 after: dict[str, list[tuple[object, ...]]]) -> None:
    """Every old row is still there, column for column (new columns come last, empty)."""
    for table, rows in before.items():
        assert len(after[table]) == len(rows), table
        for old, new in zip(rows, after[table], strict=True):
            assert new[:len(old)] == old, table
            assert all(v is None for v in new[len(old):]), table


async def test_a_data_directory_from_4ab9567_opens_with_every_row(tmp_path: Path) -> None:
    path = tmp_path / "shares.sqlite3"
    _old_database(path, 2)
    before = _dump(path, TABLES)
    assert all(before[t] for t in TABLES)
    store = sync_store(path)
    await store.start()
    try:
        share = await store.get("id-1")
        assert share is not None and share.version == 3 and share.content == '{"a": 1}'
        refs = await store.db.execute_fn(lambda c: outbox.upstream_refs(c, ["id-1"]))
        assert refs["id-1"].upstream_id == "up-1"
        versions = await store.db.execute_fn(lambda c: dict(c.execute(
            "SELECT owner, version FROM schema_versions").fetchall()))
        assert versions == {"sharing": len(SHARING_SCHEMA.migrations),
                            "sync": len(SYNC_SCHEMA.migrations)}
        # The old store's idempotency replay still answers from the old row.
        replay = await store.create("{}", owner_session="sess",
                                    idempotency=IdempotencyKey("sess", "k", "h"))
        assert replay.replayed and replay.share.id == "id-1"
    finally:
        await store.close()
    _assert_kept(before, _dump(path, TABLES))
    # The sync migration added after 4ab9567: a deleted share leaves the outbox with it.
    store = sync_store(path)
    await store.start()
    try:
        assert await store.delete("id-1")
        assert await store.db.execute_fn(
            lambda c: c.execute("SELECT count(*) FROM outbox").fetchone()[0]) == 0
    finally:
        await store.close()


async def test_a_data_directory_from_before_sync_gets_sync_tables(tmp_path: Path) -> None:
    path = tmp_path / "shares.sqlite3"
    _old_database(path, 1)
    before = _dump(path, ("shares", "idempotency_keys"))
    # Opened by sharing alone (as `kiosk shares` does): no sync tables yet.
    store = ShareStore(path)
    await store.start()
    await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'outbox'").fetchone() is None
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db_mod.SCHEMA_FORMAT
    conn.close()
    store = sync_store(path)
    await store.start()
    try:
        created = await store.create("{}", owner_session="s")
        assert await store.db.execute_fn(
            lambda c: outbox.queued_among(c, [created.share.id, "id-1"])) == {created.share.id}
    finally:
        await store.close()
    after = _dump(path, ("shares", "idempotency_keys"))
    # Every old value is kept; columns added by later sharing migrations come after them.
    old = [r for r in after["shares"] if r[0] == "id-1"]
    assert [r[:len(before["shares"][0])] for r in old] == before["shares"]
    assert after["idempotency_keys"] == before["idempotency_keys"]


async def test_each_capability_migrates_its_own_schema(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    one = Schema("a", (("CREATE TABLE a (x)",),))
    db = Database(path, [one])
    await db.start()
    await db.close()
    two = Schema("a", (("CREATE TABLE a (x)",), ("ALTER TABLE a ADD COLUMN y",)))
    other = Schema("b", (("CREATE TABLE b (z)",),))
    db = Database(path, [two])
    db.add_schema(other)
    db.add_schema(other)  # once per owner
    await db.start()
    try:
        with pytest.raises(Exception, match="after the database started"):
            db.add_schema(Schema("c", ()))
        await db.execute_write_fn(lambda c: c.execute("INSERT INTO a VALUES (1, 2)"))
        await db.execute_write_fn(lambda c: c.execute("INSERT INTO b VALUES (3)"))
        versions = await db.execute_fn(lambda c: dict(c.execute(
            "SELECT owner, version FROM schema_versions").fetchall()))
        assert versions == {"a": 2, "b": 1}
    finally:
        await db.close()
    # Older code that knows only migration 1 of "a" refuses the file, and says why.
    db = Database(path, [one])
    with pytest.raises(StartupError, match="a schema version 2"):
        await db.start()
    await db.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("db-")]


async def test_a_cancelled_writer_still_notifies_after_its_commit(tmp_path: Path) -> None:
    """The caller is cancelled while its write waits behind another; the write commits
    afterwards, and the change listeners (the sync worker's wake) still hear of it."""
    store = sync_store(tmp_path / "s.sqlite3")
    await store.start()
    heard: list[int] = []
    store.change_listeners.append(lambda: heard.append(1))
    gate = threading.Event()
    try:
        blocker = asyncio.create_task(store.db.execute_write_fn(
            lambda c: gate.wait(10), transaction=False))
        await asyncio.sleep(0.05)  # the writer thread is now held by the blocker
        create = asyncio.create_task(store.create('{"n": 1}', owner_session="s"))
        await asyncio.sleep(0.05)  # queued behind it
        create.cancel()
        with pytest.raises(asyncio.CancelledError):
            await create
        assert heard == []
        gate.set()
        await blocker
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.01)
        assert heard == [1]
        (share,) = await store.list()
        assert await store.db.execute_fn(
            lambda c: outbox.queued_among(c, [share.id])) == {share.id}
        # A failing write notifies no one.
        with pytest.raises(Forbidden):
            await store.update(share.id, "{}", grant=UpdateGrant("intruder"))
        await asyncio.sleep(0.05)
        assert heard == [1]
    finally:
        gate.set()
        await store.close()


@pytest.mark.parametrize("upstream", [False, True])
async def test_the_dashboard_reads_in_batches(aiohttp_client, make_config, upstream) -> None:
    """One /admin load costs the same number of database calls for 3 shares as for 40
    (take-home links and queued flags in one read each, not one per share)."""
    settings = {"upstream_url": "http://127.0.0.1:9/api/v1", "sync_enabled": True,
                "sync_interval": 3600} if upstream else {}
    client = await aiohttp_client(create_app(make_config(**settings)))
    await sign_in(client)
    stats = client.app[STORE].db.stats
    assert client.app[SYNC_WORKER].enabled is upstream
    # Its rounds would read meanwhile: only the page's own calls are counted.
    await client.app[SYNC_WORKER].stop()

    async def calls_per_load() -> int:
        # The second of two loads: the first also reads each new share's content once
        # for its title (cached per version, kiosk/dashboard/titles.py).
        await client.get("/admin")
        before = stats.reads + stats.writes
        page = await (await client.get("/admin")).text()
        assert "shares-total" in page
        return stats.reads + stats.writes - before

    for _ in range(3):
        await add_share(client)
    few = await calls_per_load()
    for _ in range(37):
        await add_share(client)
    many = await calls_per_load()
    assert few == many, (few, many)
    assert many <= 8
    if upstream:
        ids = [s.id for s in await client.app[STORE].list(limit=100)]
        assert await client.app[SYNC_WORKER].queued_among(ids) == set(ids)
