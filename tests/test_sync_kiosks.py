"""Two real kiosks on loopback (classroom -> hub) through a fault-injecting proxy.

Students share and update notebooks on the classroom kiosk while the proxy drops
connections, answers 500, hangs past the timeout, cuts answers off, trickles bodies
and takes the hub away for a while; the classroom is SIGKILLed mid-sync several
times. Once the faults stop, every share must be on the hub exactly once, with the
content of its last update.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from tests.sharing_helpers import make_notebook
from tests.sync_helpers import FaultyProxy

pytestmark = pytest.mark.slow

SYNC_ARGS = ["--sync-enabled", "--sync-interval", "0.3", "--sync-backoff-base", "0.1",
             "--sync-backoff-max", "1", "--sync-timeout", "2", "--upstream-kind", "auto"]


def notebook(tag: str, step: int) -> dict:
    nb = make_notebook(f"print({step})", title=f"{tag} v{step}")
    nb["metadata"]["test_tag"] = tag
    nb["metadata"]["test_step"] = step
    return nb


class Student:
    """One browser session on the classroom kiosk, as the JE frontend drives it."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.token: str | None = None
        self.ids: dict[str, str] = {}

    async def save(self, base: str, tag: str, step: int) -> None:
        if self.token is None:
            async with self.http.post(f"{base}/api/v1/auth/issue") as r:
                self.token = (await r.json())["token"]
        headers = {"Authorization": f"Bearer {self.token}"}
        if tag not in self.ids:
            async with self.http.post(f"{base}/api/v1/notebooks", headers=headers,
                                      json={"notebook": notebook(tag, step)}) as r:
                assert r.status == 201, await r.text()
                self.ids[tag] = (await r.json())["notebook"]["id"]
        else:
            async with self.http.put(f"{base}/api/v1/notebooks/{self.ids[tag]}",
                                     headers=headers, json=notebook(tag, step)) as r:
                assert r.status == 200, await r.text()


async def sync_status(http: aiohttp.ClientSession, base: str) -> dict:
    async with http.get(f"{base}/api/kiosk/status") as r:
        return (await r.json())["sync"]


async def hub_contents(http: aiohttp.ClientSession, hub: str, secret: str) -> list[dict]:
    async with http.get(f"{hub}/api/admin/shares?limit=500",
                        headers={"Authorization": f"Bearer {secret}"}) as r:
        listing = await r.json()
    async with http.post(f"{hub}/api/v1/auth/issue") as r:
        token = (await r.json())["token"]
    out = []
    for share in listing["shares"]:
        async with http.get(f"{hub}/api/v1/notebooks/{share['id']}",
                            headers={"Authorization": f"Bearer {token}"}) as r:
            out.append((await r.json())["content"])
    return out


async def test_classroom_to_hub_exactly_once_under_faults(kiosk_process, tmp_path: Path):
    hub = await asyncio.to_thread(kiosk_process, "--data-dir", str(tmp_path / "hub"),
                                  "--name", "hub")
    proxy = FaultyProxy(hub.url(), rate=0.35, hang=3.0)
    await proxy.start()
    upstream = f"http://127.0.0.1:{proxy.port}/api/v1"
    room_args = ["--data-dir", str(tmp_path / "room"), "--name", "room",
                 "--upstream-url", upstream, *SYNC_ARGS]
    room = await asyncio.to_thread(kiosk_process, *room_args)
    expected: dict[str, int] = {}
    students = []
    kills = 0
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession() as http:
            students = [Student(http) for _ in range(6)]
            tags = [f"nb-{i:02d}" for i in range(24)]
            for phase in range(4):
                base = room.url()
                for i, tag in enumerate(tags):
                    if phase == 0 or i % (phase + 1) == 0:
                        step = expected.get(tag, 0) + 1
                        await students[i % len(students)].save(base, tag, step)
                        expected[tag] = step
                if phase == 1:
                    proxy.away = True  # the school's line goes down for a while
                await asyncio.sleep(0.8)  # let sync get going, then pull the plug
                room.stop(signal.SIGKILL)
                kills += 1
                if phase == 2:
                    proxy.away = False
                room = await asyncio.to_thread(kiosk_process, *room_args)
            proxy.away = False
            proxy.rate = 0.0  # the faults stop
            deadline = time.monotonic() + 40
            status: dict = {}
            while time.monotonic() < deadline:
                status = await sync_status(http, room.url())
                if status["queued"] == 0 and status["in_flight"] == 0:
                    break
                await asyncio.sleep(0.3)
            assert status["queued"] == 0, status
            secret = (tmp_path / "hub" / "admin-secret").read_text().strip()
            contents = await hub_contents(http, hub.url(), secret)
    finally:
        await proxy.close()
    by_tag: dict[str, list[int]] = {}
    for content in contents:
        by_tag.setdefault(content["metadata"]["test_tag"], []).append(
            content["metadata"]["test_step"])
    duplicates = {tag: steps for tag, steps in by_tag.items() if len(steps) > 1}
    assert not duplicates, f"duplicated on the hub: {duplicates}"
    assert set(by_tag) == set(expected)
    stale = {tag: (by_tag[tag][0], step) for tag, step in expected.items()
             if by_tag[tag][0] != step}
    assert not stale, f"not the last version (hub, classroom): {stale}"
    assert status["possible_duplicates"] == 0
    assert proxy.stats.faults() > 0
    report = {"shares": len(expected), "updates": sum(expected.values()) - len(expected),
              "kills": kills, "faults": vars(proxy.stats), "sync": status,
              "seconds": round(time.monotonic() - started, 1)}
    print("SYNC-FAULTS", json.dumps(report))
