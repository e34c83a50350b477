"""/admin/datasets: the teacher pre-loads, lists and removes lesson datasets.

A real dataset server on loopback (the ``csv_server`` fixture) plays the internet; the
kiosk's guarded downloader fetches from it, so these kiosks allow private addresses,
except where the refusal itself is tested.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from kiosk.app import create_app
from kiosk.downloads import DOWNLOADER
from kiosk.keys import CONFIG
from tests.test_dashboard_auth import sign_in

CSV = b"day,rain_mm\nmon,3\ntue,0\nwed,12\n"


def downloads_dir(client) -> Path:
    return Path(client.app[CONFIG].data_path) / "downloads"


def saved_files(client) -> list[str]:
    folder = downloads_dir(client)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def alert(page: str) -> str:
    match = re.search(r'id="dataset-error">([^<]*)<', page)
    assert match, page
    return match.group(1)


async def test_add_list_and_remove_a_dataset(aiohttp_client, make_config, csv_server):
    client = await aiohttp_client(create_app(make_config(fetch_allow_private=True)))
    token = await sign_in(client)
    dashboard = await (await client.get("/admin")).text()
    assert 'href="/admin/datasets"' in dashboard
    page = await (await client.get("/admin/datasets")).text()
    assert "No dataset is saved on the kiosk yet" in page
    assert "<script" not in page

    url = f"http://127.0.0.1:{csv_server(CSV)}/weather.csv"
    resp = await client.post("/admin/datasets/add", data={"csrf": token, "url": f" {url} "},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == "/admin/datasets?msg=added"
    page = await (await client.get(resp.headers["Location"])).text()
    assert "The dataset was downloaded and saved" in page
    row = re.search(r'<tr><td class="mono">([^<]+)</td><td>([^<]+)</td>'
                    r'<td data-value="(\d+)">([^<]+)</td><td data-value="(\d+)">', page)
    assert row, page
    assert row.group(1) == url and row.group(2) == "text/csv"
    assert int(row.group(3)) == len(CSV) and row.group(4) == f"{len(CSV)} B"
    entry = client.app[DOWNLOADER].cache.get(url)
    assert entry is not None and entry.body.read_bytes() == CSV
    assert int(row.group(5)) == int(entry.fetched_at)
    assert f'id="datasets-total" data-value="{len(CSV)}"' in page

    # A student's notebook now gets the saved copy.
    resp = await client.get("/api/fetch", params={"url": url})
    assert resp.status == 200 and await resp.read() == CSV
    assert resp.headers["X-Kiosk-Download"] == "cached"

    resp = await client.post("/admin/datasets/remove", data={"csrf": token, "url": url},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin/datasets?msg=removed"
    assert client.app[DOWNLOADER].cache.get(url) is None
    assert saved_files(client) == []
    page = await (await client.get("/admin/datasets")).text()
    assert url not in page and "No dataset is saved" in page

    resp = await client.post("/admin/datasets/remove", data={"csrf": token, "url": url})
    assert resp.status == 404
    assert "Nothing was removed" in alert(await resp.text())


async def test_bad_addresses_are_refused_with_the_reason(aiohttp_client, make_config,
                                                        csv_server):
    client = await aiohttp_client(create_app(make_config()))  # private addresses refused
    token = await sign_in(client)
    port = csv_server(CSV)
    cases = [
        ("weather data", 400, "Not added: only http:// and https:// URLs can be downloaded"),
        ("file:///etc/passwd", 400, "Not added: only http:// and https:// URLs"),
        ("http://user:pw@example.org/x.csv", 400, "with a user name or password"),
        ("", 400, "type the address of the file first"),
        (f"http://127.0.0.1:{port}/weather.csv", 403,
         "127.0.0.1 is a local or private address; the kiosk only downloads from the internet"),
        (f"http://localhost:{port}/weather.csv", 403, "localhost is a local or private address"),
        ("http://192.168.1.1/router.csv", 403, "192.168.1.1 is a local or private address"),
    ]
    for typed, status, reason in cases:
        resp = await client.post("/admin/datasets/add", data={"csrf": token, "url": typed})
        page = await resp.text()
        assert resp.status == status, (typed, page)
        assert reason in alert(page).replace("&#x27;", "'"), (typed, alert(page))
        # The form comes back with what the teacher typed, to correct it.
        if typed:
            assert f'name="url" value="{typed.replace("&", "&amp;")}"' in page
    assert saved_files(client) == []


async def test_too_big_is_refused_and_leaves_nothing(aiohttp_client, make_config, csv_server):
    client = await aiohttp_client(create_app(make_config(fetch_allow_private=True,
                                                         fetch_max_mib=0.001)))
    token = await sign_in(client)
    port = csv_server(b"x,y" + b"\n1,2" * 2000)  # 8 kB, over the 0.001 MiB limit
    url = f"http://127.0.0.1:{port}/big.csv"
    resp = await client.post("/admin/datasets/add", data={"csrf": token, "url": url})
    assert resp.status == 413
    assert alert(await resp.text()) == (
        "Not added: the file is larger than the kiosk&#39;s download limit of 0.001 MiB "
        "(setting fetch_max_mib)")
    assert saved_files(client) == [], "a refused download must leave no file, not even a part"


async def test_adding_again_downloads_anew_and_reports_failure(aiohttp_client, make_config):
    """The teacher's "add" never passes off an old copy as fresh: offline, it says so."""
    served = [b"v,1\n"]

    async def data(request: web.Request) -> web.Response:
        return web.Response(body=served[0], content_type="text/csv")

    origin_app = web.Application()
    origin_app.router.add_get("/d.csv", data)
    origin = TestServer(origin_app, host="127.0.0.1")
    await origin.start_server()
    client = await aiohttp_client(create_app(make_config(fetch_allow_private=True)))
    token = await sign_in(client)
    url = f"http://127.0.0.1:{origin.port}/d.csv"
    for body in (b"v,1\n", b"v,2\n"):
        served[0] = body
        resp = await client.post("/admin/datasets/add", data={"csrf": token, "url": url},
                                 allow_redirects=False)
        assert resp.status == 303
        entry = client.app[DOWNLOADER].cache.get(url)
        assert entry is not None and entry.body.read_bytes() == body
    await origin.close()
    resp = await client.post("/admin/datasets/add", data={"csrf": token, "url": url})
    assert resp.status == 504
    assert "the internet cannot be reached" in alert(await resp.text())
    entry = client.app[DOWNLOADER].cache.get(url)
    assert entry is not None and entry.body.read_bytes() == b"v,2\n", "the copy stays"


async def test_needs_a_session_and_the_form_token(aiohttp_client, make_config, csv_server):
    client = await aiohttp_client(create_app(make_config(fetch_allow_private=True)))
    url = f"http://127.0.0.1:{csv_server(CSV)}/weather.csv"
    resp = await client.get("/admin/datasets", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin"
    resp = await client.post("/admin/datasets/add", data={"url": url}, allow_redirects=False)
    assert resp.status == 403
    token = await sign_in(client)
    for forged in ({"url": url}, {"url": url, "csrf": "guess"}):
        resp = await client.post("/admin/datasets/add", data=forged)
        assert resp.status == 403
    resp = await client.post("/admin/datasets/add", data={"url": url, "csrf": token},
                             headers={"Origin": "http://evil.example"})
    assert resp.status == 403
    assert saved_files(client) == []
    # With the token, the same request works; removing needs it too.
    resp = await client.post("/admin/datasets/add", data={"url": url, "csrf": token},
                             allow_redirects=False)
    assert resp.status == 303
    resp = await client.post("/admin/datasets/remove", data={"url": url, "csrf": "guess"})
    assert resp.status == 403
    assert client.app[DOWNLOADER].cache.get(url) is not None


async def test_with_downloads_off_the_page_says_so(aiohttp_client, make_config, csv_server):
    client = await aiohttp_client(create_app(make_config(fetch_enabled=False)))
    token = await sign_in(client)
    page = await (await client.get("/admin/datasets")).text()
    assert 'id="fetch-off"' in page and 'action="/admin/datasets/add"' not in page
    url = f"http://127.0.0.1:{csv_server(CSV)}/weather.csv"
    resp = await client.post("/admin/datasets/add", data={"csrf": token, "url": url})
    assert resp.status == 409
    assert "downloads are off on this kiosk" in alert(await resp.text())
    assert saved_files(client) == []
