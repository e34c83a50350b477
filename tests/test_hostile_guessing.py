"""Issue #17 (3): share links cannot be enumerated.

``/s/<id>`` answered 4,363 guesses a second from one client with no 429, the upstream
lookup was a second oracle, and the id space (about 2·10⁹) gave a first hit among
1,000 shares in about 8 minutes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import aiohttp
import pytest

from kiosk.app import create_app
from kiosk.sharing import ids
from kiosk.sharing.store import DB_FILE
from tests.sharing_helpers import make_notebook

ID_ROUTES = [
    "/s/{rid}",
    "/api/v1/notebooks/{rid}",
    "/api/v1/notebooks/get-by-readable-id/{rid}",
    "/api/kiosk/shares/{rid}/upstream",
    "/api/v1/notebooks/{uuid}",
]


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


async def _share(client) -> tuple[str, dict[str, str]]:
    token = (await (await client.post("/api/v1/auth/issue")).json())["token"]
    auth = {"Authorization": f"Bearer {token}"}
    created = await client.post("/api/v1/notebooks", json={"notebook": make_notebook()},
                                headers=auth)
    assert created.status == 201
    return (await created.json())["notebook"]["readable_id"], auth


async def test_misses_are_limited_across_every_id_route(client, config):
    rid, auth = await _share(client)
    limit = config.rate_miss_per_minute
    statuses = []
    for i in range(limit + len(ID_ROUTES)):
        route = ID_ROUTES[i % len(ID_ROUTES)]
        path = route.format(rid=ids.new_readable_id(), uuid=uuid.uuid4())
        resp = await client.get(path, headers=auth)
        statuses.append(resp.status)
        if resp.status == 429:
            assert int(resp.headers["Retry-After"]) >= 1
    assert statuses[:limit] == [404] * limit, statuses
    assert set(statuses[limit:]) == {429}, statuses
    # Past the limit even a real id is refused to this client, on every route...
    for route in ID_ROUTES[:4]:
        resp = await client.get(route.format(rid=rid), headers=auth)
        assert resp.status == 429, route
    # ...but another device is not affected, and pages without ids still answer.
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as classmate:
        resp = await classmate.get(client.make_url(f"/s/{rid}"))
        assert resp.status == 200
    assert (await client.get("/")).status == 200


async def test_hits_are_never_limited(client, config):
    rid, auth = await _share(client)
    for _ in range(config.rate_miss_per_minute * 3):
        resp = await client.get(f"/api/v1/notebooks/{rid}", headers=auth)
        assert resp.status == 200


def test_id_space_makes_guessing_take_years(config):
    # 1,000 shares, one client at the allowed rate of misses.
    years = ids.expected_years_to_hit(1000, config.rate_miss_per_minute)
    assert years > 1, years
    drawn = [ids.new_readable_id() for _ in range(200)]
    assert all(ids.looks_like_readable_id(r) and len(r) <= 40 for r in drawn)
    assert all(len(r.rsplit("-", 1)[1]) == 4 for r in drawn)  # still spoken in one breath


async def test_ids_made_before_the_upgrade_keep_resolving(client, config):
    rid, auth = await _share(client)
    old = "brave-sunny-otter-482"
    db = config.data_path / DB_FILE
    await asyncio.to_thread(_rename, db, rid, old)
    assert (await client.get(f"/s/{old}")).status == 200
    got = await client.get(f"/api/v1/notebooks/{old}", headers=auth)
    assert got.status == 200 and (await got.json())["readable_id"] == old


def _rename(db, rid: str, old: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE shares SET readable_id = ? WHERE readable_id = ?", (old, rid))
