"""/admin actions with a valid session and token: delete, clear, switch bundle, sync;
the figures on the page; students counted in memory only; the secret logged once."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import aiohttp

from kiosk.app import create_app
from kiosk.bundle.active import current_bundle
from kiosk.dashboard.clients import RecentClients
from kiosk.dashboard.keys import RECENT_CLIENTS
from kiosk.sharing.keys import SHARING, STORE
from tests.fakebundle import make_bundle
from tests.test_dashboard_auth import add_share, sign_in


def figure(page: str, ident: str) -> str:
    match = re.search(rf'id="{ident}" data-value="([^"]*)"', page)
    assert match, f"{ident} not on the page"
    return match.group(1)


async def test_delete_and_clear_with_the_token(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    first = await add_share(client, "First")
    await add_share(client, "Second")
    await add_share(client, "Third")
    token = await sign_in(client)
    store = client.app[STORE]

    resp = await client.post(f"/admin/shares/{first}/delete", data={"csrf": token},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin?msg=deleted"
    assert await store.get(first) is None
    assert await store.count() == 2

    # Clearing needs the typed confirmation.
    resp = await client.post("/admin/shares/clear", data={"csrf": token, "confirm": "yes"},
                             allow_redirects=False)
    assert resp.headers["Location"] == "/admin?err=confirm"
    assert await store.count() == 2
    resp = await client.post("/admin/shares/clear", data={"csrf": token, "confirm": "CLEAR"})
    assert resp.status == 200
    assert "Every share was deleted" in await resp.text()
    assert await store.count() == 0


async def test_page_shows_figures_and_searches(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path)
    client = await aiohttp_client(create_app(config))
    await add_share(client, "Algebra")
    await add_share(client, "Biology")
    await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert figure(page, "shares-total") == "2"
    assert figure(page, "shares-today") == "2"
    assert int(figure(page, "students-seen")) >= 1
    assert figure(page, "bundle-name") == "fake-1"
    assert int(figure(page, "disk-free")) > 0
    assert figure(page, "sync-state") == "off"
    assert "<svg" in page and "QR code for http://127.0.0.1:" in page
    assert "No other kiosk seen on the LAN" in page
    assert "<script" not in page
    found = await (await client.get("/admin", params={"q": "algebra"})).text()
    assert "Algebra.ipynb" in found and "Biology.ipynb" not in found


async def test_bundle_switch_moves_the_pointer(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path, "fake-1")
    make_bundle(config.bundles_path, "fake-2", activate=False)
    assert current_bundle(config.bundles_path) == config.bundles_path / "fake-1"
    client = await aiohttp_client(create_app(config))
    token = await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert 'value="fake-2"' in page
    for bad in ("../etc", "nope", "current"):
        resp = await client.post("/admin/bundle", data={"csrf": token, "bundle": bad},
                                 allow_redirects=False)
        assert resp.status == 400
    assert current_bundle(config.bundles_path) == config.bundles_path / "fake-1"
    resp = await client.post("/admin/bundle", data={"csrf": token, "bundle": "fake-2"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin?msg=switched"
    assert current_bundle(config.bundles_path) == config.bundles_path / "fake-2"


async def test_sync_now_without_sync_says_so(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    token = await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert 'id="sync-off"' in page and "/admin/sync-now" not in page
    resp = await client.post("/admin/sync-now", data={"csrf": token})
    assert "Sync is off on this kiosk." in await resp.text()


async def test_sync_now_wakes_the_worker(aiohttp_client, make_config):
    # An upstream nobody answers (discard port on loopback): the worker just retries.
    config = make_config(sync_enabled=True, upstream_url="http://127.0.0.1:9/api/v1")
    client = await aiohttp_client(create_app(config))
    token = await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert figure(page, "sync-state") == "on" and "/admin/sync-now" in page
    resp = await client.post("/admin/sync-now", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin?msg=sync"
    forged = await client.post("/admin/sync-now", data={"csrf": "x"}, allow_redirects=False)
    assert forged.status == 403


async def test_students_seen_counts_distinct_clients_and_stores_nothing(
        aiohttp_client, make_config, caplog):
    caplog.set_level(logging.DEBUG)
    config = make_config(host="0.0.0.0")
    client = await aiohttp_client(create_app(config))
    url = client.make_url("/")
    addresses = ["127.0.0.23", "127.0.0.24", "127.0.0.25"]
    for address in addresses:
        for _ in range(3):  # repeated visits count once
            connector = aiohttp.TCPConnector(local_addr=(address, 0))
            async with (aiohttp.ClientSession(connector=connector) as session,
                        session.get(url) as resp):
                assert resp.status == 200
    counter: RecentClients = client.app[RECENT_CLIENTS]
    assert counter.count() == 3
    await sign_in(client)  # the test client (127.0.0.1) is the fourth
    page = await (await client.get("/admin")).text()
    assert figure(page, "students-seen") == "4"
    # The test server's access log is aiohttp's; the kiosk's server runs without one.
    kiosk_log = "\n".join(r.getMessage() for r in caplog.records
                          if r.name != "aiohttp.access")
    for address in addresses:
        assert address not in page
        assert address not in kiosk_log
    await client.app[STORE].create('{"cells":[],"metadata":{},"nbformat":4,'
                                   '"nbformat_minor":5}', owner_session="x")
    for path in Path(config.data_path).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for address in addresses:
                assert address.encode() not in data, path


def test_recent_clients_window():
    now = [0.0]
    seen = RecentClients(window=300, clock=lambda: now[0])
    seen.seen("192.0.2.1")
    seen.seen("192.0.2.2")
    seen.seen(None)
    now[0] = 200
    seen.seen("192.0.2.1")
    assert seen.count() == 2
    now[0] = 450
    assert seen.count() == 1
    assert all(b"192.0.2" not in key for key in seen._seen)


async def test_first_start_logs_the_secret_once(aiohttp_client, make_config, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.dashboard")
    config = make_config()
    client = await aiohttp_client(create_app(config))
    secret = client.app[SHARING].admin_secret
    lines = [r.getMessage() for r in caplog.records if secret in r.getMessage()]
    assert len(lines) == 1 and "kiosk admin secret" in lines[0]
    await client.close()
    caplog.clear()
    again = await aiohttp_client(create_app(config))
    assert again.app[SHARING].admin_secret == secret
    assert not [r for r in caplog.records if secret in r.getMessage()]
    mode = (config.data_path / "admin-secret").stat().st_mode & 0o777
    assert mode == 0o600


async def test_peer_kiosks_are_listed_with_a_link(aiohttp_client, make_config):
    from kiosk.discovery.keys import DISCOVERY_STATUS
    from kiosk.discovery.status import PeerKiosk

    client = await aiohttp_client(create_app(make_config()))
    status = client.app[DISCOVERY_STATUS]
    status.peers["lab-2._jupyter-kiosk._tcp.local."] = PeerKiosk(
        "lab-2._jupyter-kiosk._tcp.local.", "lab-2", "lab-2.local.", ["192.0.2.7"], 8080,
        {"version": "9.9", "path": "/", "id": "x"})
    status.peers["odd._jupyter-kiosk._tcp.local."] = PeerKiosk(
        "odd._jupyter-kiosk._tcp.local.", "<odd>", None, [], None, {})
    await sign_in(client)
    page = await (await client.get("/admin")).text()
    table = page[page.index('<table id="peers"'):]
    table = table[:table.index("</table>")]
    assert '<a href="http://192.0.2.7:8080/" rel="noreferrer">lab-2</a>' in table
    assert "9.9" in table
    assert "&lt;odd&gt;" in table and "<odd>" not in table  # no address: a name, escaped
