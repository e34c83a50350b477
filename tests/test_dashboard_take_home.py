"""The dashboard's shares table shows where synced shares went: the take-home link, and
its QR code on click (a ``<details>``, no script).

A classroom app syncs to a hub kiosk app, both real servers on loopback. The table
lists each synced share's upstream link (the same one ``/api/kiosk/shares/<id>/upstream``
gives), says "not sent yet" for one waiting while the hub is away (and "not sent" for one
made before sync was turned on), and flags a share whose newer version has not reached
the hub. In Chromium, clicking "QR code" shows a
code that zbarimg decodes to the link. Without sync there is no such column.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from kiosk.app import create_app
from kiosk.sharing.keys import SHARING, STORE
from kiosk.sharing.store import UpdateGrant
from kiosk.sync.keys import SYNC_WORKER
from tests.browserlib import run_scenario
from tests.qr_decode import zbar_decode
from tests.sharing_helpers import dumps, make_notebook
from tests.test_dashboard_auth import add_share, sign_in


def _row(page: str, readable_id: str) -> str:
    for row in re.findall(r"<tr>.*?</tr>", page, flags=re.S):
        if f'href="/s/{readable_id}"' in row:
            return row
    raise AssertionError(f"no row for {readable_id}")


async def test_shares_table_shows_take_home_links(aiohttp_client, make_config,
                                                  tmp_path: Path) -> None:
    hub = TestServer(create_app(make_config(data_dir=tmp_path / "hub", name="hub")),
                     host="127.0.0.1")
    hub_client = TestClient(hub)
    await hub_client.start_server()
    # One share from before sync was turned on (it is not back-filled).
    before_sync = await aiohttp_client(create_app(make_config(data_dir=tmp_path / "room")))
    early = await add_share(before_sync, "Early")
    await before_sync.close()
    config = make_config(data_dir=tmp_path / "room", name="room",
                         upstream_url=f"http://127.0.0.1:{hub.port}/api/v1",
                         sync_enabled=True, sync_interval=0.2, sync_timeout=2)
    room = await aiohttp_client(create_app(config))
    store = room.app[STORE]
    try:
        synced = await add_share(room, "Synced")
        behind = await add_share(room, "Behind")
        worker = room.app[SYNC_WORKER]
        worker.sync_now()
        await worker.run_round()
        assert worker.status().queued == 0
    finally:
        await hub_client.close()  # the hub goes away
    # While it is away: one share is updated, one is new.
    await store.update(behind, dumps(make_notebook("print('v2')")), grant=UpdateGrant("s1"))
    waiting = await add_share(room, "Waiting")

    await sign_in(room)
    page = await (await room.get("/admin")).text()
    assert '<th scope="col">Take-home link</th>' in page
    assert "<script" not in page
    shares = {sid: await store.get(sid) for sid in (synced, behind, waiting)}
    for sid in (synced, behind):
        info = await (await room.get(f"/api/kiosk/shares/{sid}/upstream")).json()
        row = _row(page, shares[sid].readable_id)  # type: ignore[union-attr]
        assert f'href="{info["url"]}"' in row
        assert info["upstream_readable_id"] in row
        assert '<details class="take-home"><summary>QR code' in row and "<svg" in row
        assert ("a newer version is waiting" in row) is (sid == behind)
    row = _row(page, shares[waiting].readable_id)  # type: ignore[union-attr]
    assert "not sent yet" in row and "take-home-link" not in row
    row = _row(page, (await store.get(early)).readable_id)  # type: ignore[union-attr]
    assert "not sent (shared before sync was turned on)" in row
    assert "take-home-link" not in row

    # In a browser: the QR code appears on click, and is the link.
    secret = room.app[SHARING].admin_secret
    base = f"http://127.0.0.1:{room.server.port}"
    shot = tmp_path / "take-home-qr.png"
    rid = shares[synced].readable_id  # type: ignore[union-attr]
    result = await asyncio.to_thread(run_scenario, "dashboard_take_home", {
        "base": base, "secret": secret, "shareId": rid, "shot": str(shot),
        "tableShot": str(tmp_path / "shares-table.png")})
    info = await (await room.get(f"/api/kiosk/shares/{synced}/upstream")).json()
    assert result["link"] == info["url"]
    assert result["visibleBefore"] is False
    assert zbar_decode(shot) == [info["url"]]
    assert result["scripts"] == 0
    assert result["hubRequests"] == 0


async def test_no_take_home_column_without_sync(aiohttp_client, make_config) -> None:
    client = await aiohttp_client(create_app(make_config()))
    await add_share(client, "Local only")
    await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert "Local only.ipynb" in page
    assert "Take-home link" not in page and 'class="take-home"' not in page
