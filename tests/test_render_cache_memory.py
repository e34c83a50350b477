"""The share page's render cache keeps one entry per share, not one per autosave.

A share page always shows the current version, so the render of a superseded version is
dead weight. Before, every version viewed stayed cached until the 32 MiB budget pushed it
out: in the school-day soak (bench/soak.py, 60 students autosaving ~50 KiB notebooks)
the kiosk's RSS grew ~1 MiB a minute for 40 minutes, filling the budget with versions
nobody could ask for again.
"""

from __future__ import annotations

import json

import pytest

from kiosk.app import create_app
from kiosk.sharing.keys import SHARING
from tests.sharing_helpers import make_notebook

API = "/api/v1"


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


async def test_a_new_version_replaces_the_cached_render_of_the_old_one(client):
    token = (await (await client.post(f"{API}/auth/issue")).json())["token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    ids = []
    for n in range(2):
        resp = await client.post(f"{API}/notebooks", headers=headers,
                                 data=json.dumps({"notebook": make_notebook(f"first_{n}")}))
        assert resp.status == 201
        ids.append((await resp.json())["notebook"])
    renderer = client.app[SHARING].renderer
    for version in range(6):
        for saved in ids:
            page = await client.get(f"/s/{saved['readable_id']}")
            assert page.status == 200
            assert (f"v{version}_" in await page.text()) or version == 0
            resp = await client.put(f"{API}/notebooks/{saved['id']}", headers=headers,
                                    data=json.dumps(make_notebook(f"v{version + 1}_x = 1")))
            assert resp.status == 200
    assert renderer.renders == 12  # every version was rendered once, when viewed
    cached = list(renderer._cache)
    assert sorted(share_id for share_id, _ in cached) == sorted(s["id"] for s in ids)
    assert renderer._cache_bytes == sum(len(body) for body in renderer._cache.values())
    # The current versions are served from the cache; an old render never comes back.
    for saved in ids:
        page = await client.get(f"/s/{saved['readable_id']}")
        assert "v6_x" in await page.text()
    assert renderer.renders == 14
    assert len(renderer._cache) == 2
