"""A full disk under a real ``kiosk serve``: its data directory on a small tmpfs (root only).

Students keep sharing and autosaving while the disk runs out. Every answer that is not a
success must be a clear JSON error (507 Insufficient Storage, or 503), never a 500 or a
dropped connection; everything acknowledged before and during the shortage reads back
exactly, also after a SIGKILL and a restart; and once space is freed, shares are
accepted again without a restart. Two floors: ``--min-free-disk-mib 1`` (the kiosk
refuses before the disk is full; its free-space reading is cached for 5 s, so the last
writes may still meet the real end of the disk) and ``0`` (only the real end of the
disk: SQLite's "database or disk is full").
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.sharing_helpers import make_notebook
from tests.smalldisk import fill, mounted_tmpfs

pytestmark = pytest.mark.slow

WRITERS = 4


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB tmpfs for the data directory, unmounted at teardown."""
    with mounted_tmpfs(tmp_path / "small", 8) as mnt:
        yield mnt


class Writers:
    """Students sharing and autosaving; every acknowledged save and every refusal."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acked: dict[str, str] = {}  # share id -> exact text of its last acknowledged save
        self.owner: dict[str, int] = {}
        self.refusals: Counter[str] = Counter()
        self.defects: list[str] = []

    async def student(self, n: int, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.url}/api/v1/auth/issue") as resp:
                token = (await resp.json())["token"]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            mine: list[str] = []
            version = 0
            while not stop.is_set():
                version += 1
                text = json.dumps(make_notebook(f"n = {n}.{version}", pad_bytes=30_000))
                if mine and version % 3 == 0:
                    target = mine[version % len(mine)]
                    method, url, data, ok = ("PUT", f"{self.url}/api/v1/notebooks/{target}",
                                             text, 200)
                else:
                    target = ""
                    method, url, data, ok = ("POST", f"{self.url}/api/v1/notebooks",
                                             '{"notebook": ' + text + "}", 201)
                try:
                    async with session.request(method, url, headers=headers, data=data) as resp:
                        body = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.defects.append(f"{method}: {type(exc).__name__}")
                    continue
                if status == ok:
                    share_id = json.loads(body)["notebook"]["id"]
                    self.acked[share_id] = text
                    if not target:
                        mine.append(share_id)
                    continue
                error = json.loads(body) if body.startswith(b"{") else None
                if status not in (503, 507) or not error or error.get("status") != status:
                    self.defects.append(f"{method}: HTTP {status} {body[:200]!r}")
                else:
                    # The floor says "almost full"; the real end of the disk "is full".
                    why = "floor" if "almost" in error["message"] else "disk full"
                    self.refusals[f"{status} {error['error_code']} ({method}, {why})"] += 1
                await asyncio.sleep(0.05)

    async def run_until(self, *, refused: int, acked: int | None = None,
                        timeout: float = 60) -> None:
        """Write until ``refused`` refusals were answered (the disk is full), or until
        ``acked`` saves were acknowledged, whichever comes first."""
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.student(n, stop)) for n in range(WRITERS)]
        deadline = time.monotonic() + timeout
        while sum(self.refusals.values()) < refused and time.monotonic() < deadline \
                and not self.defects and (acked is None or len(self.acked) < acked):
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)


async def read_back(url: str, acked: dict[str, str]) -> list[str]:
    """The acknowledged shares that do not read back with their exact last text."""
    wrong = []
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/v1/auth/issue") as resp:
            token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for share_id, text in acked.items():
            async with session.get(f"{url}/api/v1/notebooks/{share_id}",
                                   headers=headers) as resp:
                body = await resp.json() if resp.status == 200 else None
            if body is None or body["content"] != json.loads(text):
                wrong.append(share_id)
    return wrong


async def post_one(url: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/v1/auth/issue") as resp:
            token = (await resp.json())["token"]
        async with session.post(f"{url}/api/v1/notebooks", data=json.dumps(
                {"notebook": make_notebook("after")}),
                headers={"Authorization": f"Bearer {token}",
                         "Content-Type": "application/json"}) as resp:
            return resp.status


@pytest.mark.parametrize("floor_mib", ["1", "0"])
async def test_full_disk_refuses_clearly_loses_nothing_and_recovers(
        kiosk_process, small_disk, tmp_path, floor_mib):
    args = ("--data-dir", str(small_disk), "--min-free-disk-mib", floor_mib,
            "--rate-issue-per-minute", "100000", "--rate-post-per-minute", "100000")
    kiosk = kiosk_process(*args)
    writers = Writers(kiosk.url())
    # Some work saved while there is room, then the disk nearly fills (other files).
    await writers.run_until(refused=1, acked=12, timeout=30)
    before = len(writers.acked)
    assert before > 0 and not writers.refusals, "the disk was full too early"
    filler = fill(small_disk, leave_bytes=1536 * 1024)
    await writers.run_until(refused=20)

    assert not writers.defects, (writers.defects[:3], kiosk.log[-20:])
    assert sum(writers.refusals.values()) >= 20, "the disk never ran out"
    assert kiosk.proc.poll() is None
    assert await read_back(kiosk.url(), writers.acked) == []  # readable while full

    filler.unlink()  # the teacher clears space: new work is accepted again, no restart
    deadline = time.monotonic() + 15
    while (status := await post_one(kiosk.url())) != 201:
        assert status in (503, 507), status
        assert time.monotonic() < deadline, "still refusing after space was freed"
        await asyncio.sleep(0.5)

    kiosk.stop(signal.SIGKILL)
    kiosk = kiosk_process(*args)
    assert await read_back(kiosk.url(), writers.acked) == []
    with sqlite3.connect(small_disk / "shares.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(f"floor {floor_mib} MiB: {len(writers.acked)} shares acknowledged "
          f"({before} before the disk filled), refusals {dict(writers.refusals)}, "
          "all read back exactly after SIGKILL and restart")
