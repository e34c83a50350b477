"""Issue #17 (5): downloads cannot be used to stall the kiosk or to fill its disk.

Before: eight slow downloads from one student held all eight connections of
``/api/fetch`` for a minute, and the download cache had no quota: it filled the disk and
new shares got 507. The "internet" here is a server on loopback (the relay is allowed
to reach it with ``fetch_allow_private``); the disk is a real, small tmpfs.
"""

from __future__ import annotations

import asyncio
import io
import json
import time

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kiosk.app import create_app
from kiosk.downloads.web import FETCHES_PER_CLIENT
from tests.sharing_helpers import make_notebook
from tests.smalldisk import fill, mounted_tmpfs

MIB = 1048576


@pytest.fixture
async def origin():
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"x")
        await release.wait()  # a server that trickles until the test ends
        await resp.write(b"y")
        return resp

    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=b"0" * int(request.match_info["size"]),
                            content_type="text/csv")

    app = web.Application()
    app.router.add_get("/slow/{n}", slow)
    app.router.add_get("/file/{n}/{size}", sized)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    server.release = release
    yield server
    release.set()
    await server.close()


async def _client(aiohttp_client, make_config, **overrides):
    config = await asyncio.to_thread(make_config, fetch_allow_private=True, **overrides)
    return await aiohttp_client(create_app(config))


async def test_slow_downloads_of_one_student_do_not_block_the_class(aiohttp_client,
                                                                    make_config, origin):
    client = await _client(aiohttp_client, make_config)
    base = f"http://127.0.0.1:{origin.port}"
    slow = [asyncio.create_task(client.get("/api/fetch", params={"url": f"{base}/slow/{i}"}))
            for i in range(8)]
    done, _ = await asyncio.wait(slow, timeout=3)
    refused = [t.result() for t in done]
    assert len(refused) == 8 - FETCHES_PER_CLIENT
    assert all(r.status == 429 and "Retry-After" in r.headers for r in refused)
    # A classmate on another device downloads at once, while those still trickle.
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as classmate:
        resp = await classmate.get(client.make_url("/api/fetch"),
                                   params={"url": f"{base}/file/1/1000"})
        assert resp.status == 200 and len(await resp.read()) == 1000
    assert not any(t.done() for t in slow if t not in done)
    origin.release.set()
    for task in slow:
        if task not in done:
            assert (await task).status == 200


async def test_cache_has_a_quota_and_evicts_the_oldest(aiohttp_client, make_config, origin,
                                                        tmp_path):
    client = await _client(aiohttp_client, make_config, fetch_cache_mib=1.0)
    base = f"http://127.0.0.1:{origin.port}"
    for n in range(6):
        resp = await client.get("/api/fetch", params={"url": f"{base}/file/{n}/300000"})
        assert resp.status == 200 and len(await resp.read()) == 300000
    cache = tmp_path / "data" / "downloads"
    total = sum(p.stat().st_size for p in cache.glob("*.body"))
    assert total <= 1 * MIB
    assert len(list(cache.glob("*.body"))) == 3  # the three newest
    # An evicted file is simply fetched again.
    resp = await client.get("/api/fetch", params={"url": f"{base}/file/0/300000"})
    assert resp.status == 200 and resp.headers["X-Kiosk-Download"] == "fresh"


async def test_downloads_never_take_the_room_shares_need(aiohttp_client, make_config, origin,
                                                         tmp_path):
    with mounted_tmpfs(tmp_path / "disk", 64) as disk:
        client = await _client(aiohttp_client, make_config, data_dir=disk,
                               min_free_disk_mib=12, fetch_max_mib=25)
        fill(disk, 28 * MIB)  # a 20 MiB download would leave 8 MiB: shares need 12
        base = f"http://127.0.0.1:{origin.port}"
        started = time.monotonic()
        resp = await client.get("/api/fetch", params={"url": f"{base}/file/1/{20 * MIB}"})
        assert resp.status == 507, await resp.text()
        assert "shared work" in (await resp.json())["message"]
        assert time.monotonic() - started < 30
        token = (await (await client.post("/api/v1/auth/issue")).json())["token"]
        body = io.BytesIO(json.dumps({"notebook": make_notebook()}).encode())
        share = await client.post("/api/v1/notebooks", data=body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert share.status == 201
        # Small files still fit.
        resp = await client.get("/api/fetch", params={"url": f"{base}/file/2/1000"})
        assert resp.status == 200
