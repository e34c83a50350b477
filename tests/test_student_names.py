"""The optional student name on a share: the X-Kiosk-Student-Name header, its checks,
the column migration, the dashboard and export, and upstream only when allowed."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

import pytest

from kiosk.app import create_app
from kiosk.db import Database
from kiosk.errors import BadRequest
from kiosk.sharing.keys import STORE
from kiosk.sharing.names import STUDENT_NAME_HEADER, clean_student_name, parse_student_name
from kiosk.sharing.schema import SHARING_SCHEMA
from kiosk.sharing.store import ShareStore
from kiosk.sync.upload import upstream_content
from tests.sharing_helpers import dumps, make_notebook
from tests.sync_helpers import FakeJE, api_url, serve_upstream, start_worker
from tests.test_dashboard_auth import sign_in
from tests.test_sharing_api import API, auth, issue, jbody, post


def named(token: str, name: str) -> dict[str, str]:
    return {**auth(token), STUDENT_NAME_HEADER: quote(name, safe="")}


async def test_name_is_kept_updated_and_never_served(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    store = client.app[STORE]
    token = await issue(client)
    resp = await client.post(f"{API}/notebooks", headers=named(token, "  Zoé   Martin "),
                             data=jbody({"notebook": make_notebook()}))
    assert resp.status == 201, await resp.text()
    share_id = (await resp.json())["notebook"]["id"]
    share = await store.get(share_id)
    assert share is not None and share.student_name == "Zoé Martin"
    # A classmate reading the share gets the JE answer: no name in it.
    got = await client.get(f"{API}/notebooks/{share_id}", headers=auth(await issue(client)))
    assert "Zo" not in await got.text()
    # A PUT without the header (a JE client, or the name not typed) keeps the name.
    resp = await client.put(f"{API}/notebooks/{share_id}", headers=auth(token),
                            data=jbody(make_notebook("x = 2")))
    assert resp.status == 200
    assert (await store.get(share_id)).student_name == "Zoé Martin"
    # With the header it changes it.
    resp = await client.put(f"{API}/notebooks/{share_id}", headers=named(token, "محمد"),
                            data=jbody(make_notebook("x = 3")))
    assert resp.status == 200
    assert (await store.get(share_id)).student_name == "محمد"
    # A JE client's POST stores no name.
    resp = await post(client, token, make_notebook())
    plain = (await resp.json())["notebook"]["id"]
    assert (await store.get(plain)).student_name is None
    # Listing (the dashboard) and search by the student's name.
    found = await store.list(search="محمد")
    assert [s.id for s in found] == [share_id] and found[0].student_name == "محمد"


@pytest.mark.parametrize("raw", [
    "%07bell",                # control character
    "Bob%E2%80%AEevil",       # right-to-left override
    "a%E2%80%8Bb",            # zero-width space
    "%FF%FE",                 # not UTF-8
    quote("x" * 61),          # too long
    "caf\u00e9",              # not percent-encoded (non-ASCII header)
])
async def test_bad_names_are_refused_and_nothing_is_stored(aiohttp_client, config, raw):
    client = await aiohttp_client(create_app(config))
    token = await issue(client)
    resp = await client.post(f"{API}/notebooks",
                             headers={**auth(token), STUDENT_NAME_HEADER: raw},
                             data=jbody({"notebook": make_notebook()}))
    assert resp.status == 400, await resp.text()
    assert "name" in (await resp.json())["message"].lower()
    assert await client.app[STORE].count() == 0


async def test_preflight_allows_the_header(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    resp = await client.options(f"{API}/notebooks", headers={"Origin": "http://elsewhere"})
    assert STUDENT_NAME_HEADER in resp.headers["Access-Control-Allow-Headers"]


def test_clean_student_name_rules() -> None:
    assert clean_student_name("  ") is None
    assert clean_student_name("Zoe\u0301") == "Zoé"  # NFC
    assert clean_student_name("x" * 60) == "x" * 60
    assert parse_student_name(None) is None and parse_student_name("") is None
    assert parse_student_name(quote("Zoé Martin")) == "Zoé Martin"
    with pytest.raises(BadRequest):
        clean_student_name("Ana\u202e")  # bidi override
    with pytest.raises(BadRequest):
        clean_student_name("x" * 61)


def test_whitespace_is_collapsed_not_refused() -> None:
    assert clean_student_name("tab\there\nnow") == "tab here now"


async def test_migration_keeps_old_shares(tmp_path: Path) -> None:
    """A data directory from before the column (sharing migration 1) keeps every share."""
    path = tmp_path / "shares.sqlite3"
    old = Database(path, [type(SHARING_SCHEMA)("sharing", SHARING_SCHEMA.migrations[:1])],
                   name="old")
    await old.start()
    await old.execute_write_fn(lambda c: c.execute(
        "INSERT INTO shares (id, readable_id, version, owner_session, name, size, created_at, "
        "updated_at, content) VALUES ('u1','r1',1,'s','Welcome.ipynb',2,1,1,'{}')"))
    await old.close()
    store = ShareStore(path)
    await store.start()
    try:
        share = await store.get("u1")
        assert share is not None and share.content == "{}" and share.student_name is None
        result = await store.create("{}", owner_session="s", student_name="Ana")
        assert (await store.get(result.share.id)).student_name == "Ana"
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master "
                                              "WHERE type = 'index'")}
    assert "shares_name" in indexes


async def test_dashboard_shows_the_name_escaped_and_export_uses_it(aiohttp_client,
                                                                   make_config):
    client = await aiohttp_client(create_app(make_config()))
    store = client.app[STORE]
    await store.create(dumps(make_notebook(title="Rainfall")), owner_session="s1",
                       name="Rainfall.ipynb", student_name="<b>Zoé</b>")
    token = await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert "&lt;b&gt;Zoé&lt;/b&gt;" in page and "<b>Zoé</b>" not in page
    assert '<th scope="col">Student</th>' in page
    resp = await client.post("/admin/shares/export", data={"csrf": token})
    with zipfile.ZipFile(BytesIO(await resp.read())) as zf:
        (entry,) = zf.namelist()
    # The title, then the student's name, made safe as a file name (no "<", ">", "/").
    assert entry.startswith("Rainfall - ") and "Zoé" in entry
    assert not set(entry) & set("<>/\\")


def test_upstream_gets_the_name_only_as_authors() -> None:
    content = dumps(make_notebook())
    assert upstream_content(content) == content
    sent = json.loads(upstream_content(content, "Zoé"))
    assert sent["metadata"]["authors"] == [{"name": "Zoé"}]


@pytest.mark.parametrize("allowed", [False, True])
async def test_name_goes_upstream_only_when_the_teacher_allows(make_config, tmp_path, allowed):
    """A real sync worker against the JE stand-in (tests/sync_helpers.FakeJE)."""
    fake = FakeJE()
    server = await serve_upstream(fake.app())
    config = make_config(upstream_url=api_url(server), sync_enabled=True, upstream_kind="je",
                         sync_student_names=allowed)
    store, worker = await start_worker(config, tmp_path / "s.sqlite3", clock=lambda: fake.now)
    try:
        await store.create(dumps(make_notebook()), owner_session="s", student_name="Zoé")
        for _ in range(20):
            worker.sync_now()
            await worker.run_round()
            if worker.status().queued == 0:
                break
        (up,) = fake.notebooks.values()
        metadata = up["content"]["metadata"]
        if allowed:
            assert metadata["authors"] == [{"name": "Zoé"}]
        else:
            assert "authors" not in metadata and "Zoé" not in json.dumps(up)
    finally:
        await worker.stop()
        await store.close()
        await server.close()
