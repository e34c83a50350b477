"""The download relay: real origin server on loopback, real cache files, the address guard."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kiosk.app import create_app
from kiosk.downloads.guard import GuardedResolver, check_host, is_public
from kiosk.errors import Forbidden
from kiosk.keys import CONFIG

CSV = b"x,y\n1,2\n3,4\n"


@pytest.fixture
async def origin():
    """A stand-in for a dataset server on the internet; records what it was sent."""
    seen: list[web.Request] = []

    async def data(request: web.Request) -> web.Response:
        seen.append(request)
        await asyncio.sleep(0.05)
        return web.Response(body=CSV, content_type="text/csv")

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/x.csv")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"0" * 300_000)

    app = web.Application()
    app.router.add_get("/x.csv", data)
    app.router.add_get("/hop", hop)
    app.router.add_get("/big", big)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    server.seen = seen
    yield server
    await server.close()


async def kiosk_client(aiohttp_client, make_config, **overrides):
    config = make_config(**overrides)
    return await aiohttp_client(create_app(config))


async def test_fetch_caches_and_serves_offline(aiohttp_client, make_config, origin):
    client = await kiosk_client(aiohttp_client, make_config, fetch_allow_private=True)
    url = f"http://127.0.0.1:{origin.port}/x.csv"
    resp = await client.get("/api/fetch", params={"url": url},
                            headers={"Cookie": "session=student", "Authorization": "Bearer t"})
    assert resp.status == 200 and await resp.read() == CSV
    assert resp.headers["X-Kiosk-Download"] == "fresh"
    assert resp.headers["Content-Type"].startswith("text/csv")
    sent = origin.seen[0].headers
    assert "Cookie" not in sent and "Authorization" not in sent
    assert sent["User-Agent"].startswith("jupyterlite-kiosk/")
    resp = await client.get("/api/fetch", params={"url": url})
    assert resp.headers["X-Kiosk-Download"] == "cached" and await resp.read() == CSV
    assert len(origin.seen) == 1
    # The internet goes away; the copy stays.
    await origin.close()
    from kiosk.downloads import DOWNLOADER
    client.app[DOWNLOADER].fresh_seconds = 0
    resp = await client.get("/api/fetch", params={"url": url})
    assert resp.status == 200 and await resp.read() == CSV
    assert resp.headers["X-Kiosk-Download"] == "stale"


async def test_uncached_and_offline_is_a_clear_error(aiohttp_client, make_config, origin):
    client = await kiosk_client(aiohttp_client, make_config, fetch_allow_private=True)
    port = origin.port
    await origin.close()
    resp = await client.get("/api/fetch", params={"url": f"http://127.0.0.1:{port}/x.csv"})
    assert resp.status == 504
    body = await resp.json()
    assert body["error_code"] == "not_cached_offline"
    assert "not saved on the kiosk" in body["message"]


async def test_concurrent_students_cause_one_download(aiohttp_client, make_config, origin):
    client = await kiosk_client(aiohttp_client, make_config, fetch_allow_private=True)
    url = f"http://127.0.0.1:{origin.port}/x.csv"
    # Ten students: ten devices (loopback addresses), as each has its own in class.
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(
        local_addr=(f"127.0.0.{i}", 0))) for i in range(1, 11)]
    try:
        resps = await asyncio.gather(*[s.get(client.make_url("/api/fetch"),
                                             params={"url": url}) for s in sessions])
        assert all(r.status == 200 for r in resps)
        assert [await r.read() for r in resps] == [CSV] * 10
    finally:
        for s in sessions:
            await s.close()
    assert len(origin.seen) == 1


async def test_redirect_followed_and_size_limited(aiohttp_client, make_config, origin):
    client = await kiosk_client(aiohttp_client, make_config, fetch_allow_private=True,
                                fetch_max_mib=0.1)
    resp = await client.get("/api/fetch", params={"url": f"http://127.0.0.1:{origin.port}/hop"})
    assert resp.status == 200 and await resp.read() == CSV
    resp = await client.get("/api/fetch", params={"url": f"http://127.0.0.1:{origin.port}/big"})
    assert resp.status == 413
    leftovers = list((client.app[CONFIG].data_path / "downloads").glob(".part-*"))
    assert leftovers == [], "a refused download must not leave a partial file"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/x.csv", "http://localhost:{port}/x.csv", "http://10.1.2.3/x.csv",
    "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:{port}/",
    "http://[fe80::1]/", "http://0.0.0.0:{port}/", "http://100.64.0.1/",
])
async def test_local_addresses_refused_by_default(aiohttp_client, make_config, origin, url):
    client = await kiosk_client(aiohttp_client, make_config)
    resp = await client.get("/api/fetch", params={"url": url.format(port=origin.port)})
    assert resp.status == 403, await resp.text()
    assert origin.seen == []


@pytest.mark.parametrize("url", ["ftp://x/y", "file:///etc/passwd", "http://user:pw@x/",
                                 "http:///nohost", "javascript:alert(1)"])
async def test_bad_urls(aiohttp_client, make_config, url):
    client = await kiosk_client(aiohttp_client, make_config)
    resp = await client.get("/api/fetch", params={"url": url})
    assert resp.status == 400


async def test_missing_url_parameter(aiohttp_client, make_config):
    client = await kiosk_client(aiohttp_client, make_config)
    resp = await client.get("/api/fetch")
    assert resp.status == 400 and "url=" in (await resp.json())["message"]


def test_address_policy():
    assert is_public("93.184.216.34") and is_public("2606:4700::1111")
    for private in ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.0.1", "169.254.1.1",
                    "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "100.64.1.1", "224.0.0.1"]:
        assert not is_public(private), private


async def test_rebinding_is_caught_at_connect_time():
    class Flipping:
        async def resolve(self, host, port=0, family=0):
            return [{"hostname": host, "host": "10.0.0.5", "port": port, "family": 2,
                     "proto": 0, "flags": 0}]

        async def close(self):
            pass

    resolver = GuardedResolver(Flipping(), allow_private=False)
    with pytest.raises(OSError, match="private"):
        await resolver.resolve("example.test", 80)
    with pytest.raises(Forbidden):
        await check_host("10.9.9.9", allow_private=False)


def test_cache_add_cli_preloads_for_offline(csv_server, tmp_path):
    import subprocess
    import sys

    url = f"http://127.0.0.1:{csv_server(CSV)}/x.csv"
    base = [sys.executable, "-m", "kiosk", "cache"]
    common = ["--data-dir", str(tmp_path), "--fetch-allow-private"]
    proc = subprocess.run([*base, "add", url, *common], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"cached {url}" in proc.stdout
    proc = subprocess.run([*base, "list", *common], capture_output=True, text=True, timeout=60,
                          check=True)
    assert url in proc.stdout
    proc = subprocess.run([*base, "add", "http://10.0.0.1/x", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and "local or private address" in proc.stdout


def test_cache_remove_cli_forgets_the_copy(csv_server, tmp_path):
    import subprocess
    import sys

    url = f"http://127.0.0.1:{csv_server(CSV)}/x.csv"
    base = [sys.executable, "-m", "kiosk", "cache"]
    common = ["--data-dir", str(tmp_path), "--fetch-allow-private"]
    subprocess.run([*base, "add", url, *common], capture_output=True, timeout=60, check=True)
    proc = subprocess.run([*base, "remove", url, "http://example.org/never.csv", *common],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, "one of the two was not cached"
    assert f"removed {url}" in proc.stdout
    assert "NOT CACHED http://example.org/never.csv" in proc.stdout
    proc = subprocess.run([*base, "list", *common], capture_output=True, text=True, timeout=60,
                          check=True)
    assert url not in proc.stdout and "empty" in proc.stdout
    assert [p.name for p in (tmp_path / "downloads").iterdir()
            if not p.name.startswith(".")] == []
