"""/healthz: ok with a bundle and room on disk; degraded on low disk or a missing bundle."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.app import create_app
from kiosk.health import HEALTH_CHECKS, CheckResult
from kiosk.keys import DISK_PROBE
from kiosk.sharing.keys import SHARING
from tests.fakebundle import make_bundle
from tests.sharing_helpers import make_notebook
from tests.smalldisk import fill, mounted_tmpfs

JSON = {"Content-Type": "application/json"}


async def get_health(client) -> dict:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert set(body) == {"status", "reasons", "checks"}
    return body


async def test_health_ok_with_bundle_and_disk(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path)
    client = await aiohttp_client(create_app(config))
    body = await get_health(client)
    assert body["status"] == "ok", body
    assert body["reasons"] == []
    assert body["checks"]["bundle"] == {"ok": True, "name": "fake-1", "error": None}
    disk = body["checks"]["disk"]
    assert disk["ok"] is True
    assert disk["free_bytes"] >= disk["min_free_bytes"] == 200 * 1024 * 1024


async def test_health_degraded_without_bundle(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    body = await get_health(client)
    assert body["status"] == "degraded"
    assert body["checks"]["bundle"]["ok"] is False
    assert any("no bundle is active" in r for r in body["reasons"]), body


async def test_health_degraded_below_free_disk_floor(aiohttp_client, make_config):
    config = make_config(min_free_disk_mib=1e12)  # a petabyte floor: always short
    make_bundle(config.bundles_path)
    client = await aiohttp_client(create_app(config))
    body = await get_health(client)
    assert body["status"] == "degraded"
    assert body["checks"]["disk"]["ok"] is False
    assert body["checks"]["bundle"]["ok"] is True
    assert len(body["reasons"]) == 1 and "low disk space" in body["reasons"][0]


async def test_health_extra_check_hook(aiohttp_client, make_config):
    """A later capability (sync) adds its own check; a crashing check degrades, not 500s."""
    config = make_config()
    make_bundle(config.bundles_path)
    app = create_app(config)

    async def sync_failing(app):
        return CheckResult(False, {"last_error": "upstream unreachable"},
                           "sync failing: upstream unreachable")

    async def broken(app):
        raise RuntimeError("boom")

    app[HEALTH_CHECKS]["sync"] = sync_failing
    app[HEALTH_CHECKS]["broken"] = broken
    client = await aiohttp_client(app)
    body = await get_health(client)
    assert body["status"] == "degraded"
    assert body["checks"]["sync"] == {"ok": False, "last_error": "upstream unreachable"}
    assert body["checks"]["broken"]["ok"] is False
    assert "sync failing: upstream unreachable" in body["reasons"]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB tmpfs (root only), unmounted at teardown."""
    with mounted_tmpfs(tmp_path / "small", 2) as mnt:
        yield mnt


async def test_health_degraded_on_full_tmpfs_and_share_post_507(
        aiohttp_client, make_config, small_tmpfs, tmp_path):
    config = make_config(data_dir=small_tmpfs, bundles_dir=tmp_path / "bundles",
                         min_free_disk_mib=1)
    make_bundle(config.bundles_path)
    app = create_app(config)
    app[DISK_PROBE].ttl = 0  # measure on every request, not every 5 s
    app[SHARING].disk.ttl = 0
    client = await aiohttp_client(app)

    body = await get_health(client)
    assert body["status"] == "ok", body
    assert body["checks"]["disk"]["total_bytes"] <= 2 * 1024 * 1024

    resp = await client.post("/api/v1/auth/issue", headers=JSON)
    token = (await resp.json())["token"]
    headers = {**JSON, "Authorization": f"Bearer {token}"}
    payload = json.dumps({"notebook": make_notebook("x = 1")}).encode()
    resp = await client.post("/api/v1/notebooks", headers=headers, data=io.BytesIO(payload))
    assert resp.status == 201

    fill(small_tmpfs, leave_bytes=256 * 1024)
    body = await get_health(client)
    assert body["status"] == "degraded"
    assert body["checks"]["disk"]["free_bytes"] < 1024 * 1024
    assert any("low disk space" in r for r in body["reasons"])

    resp = await client.post("/api/v1/notebooks", headers=headers, data=io.BytesIO(payload))
    assert resp.status == 507
    assert (await resp.json())["error_code"] == "insufficient_storage"

    (small_tmpfs / "filler").unlink()
    body = await get_health(client)
    assert body["status"] == "ok", body
