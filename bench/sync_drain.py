"""Time to drain a sync backlog: 1,000 shares queued while the hub is away.

Two real kiosks on loopback (classroom -> hub) with a switchable proxy between them
(tests.sync_helpers.FaultyProxy with no faults, "away" while the backlog builds).
Prints one JSON line: the drain time and rate, the retries and possible duplicates the
classroom counted, the extra copies of a share on the hub (duplicates), the notebooks
sent with a password (0: a kiosk hub gets none, see docs/reliability.md) and the CPU
seconds each kiosk used while draining.
With ``--fault-rate R`` the proxy also misbehaves on that fraction of requests once the
hub is back (drop, 500, hang past the 2 s timeout, answer cut off, trickled body).
Usage: .venv/bin/python -m bench.sync_drain [--shares N] [--concurrency N] [--fault-rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import aiohttp

from kiosk.sharing.store import DB_FILE
from tests.conftest import KioskProcess, start_kiosk
from tests.sharing_helpers import make_notebook
from tests.sync_helpers import FaultyProxy

BASE = ["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled",
        "--rate-post-per-minute", "1000000", "--rate-issue-per-minute", "1000000"]


def cpu_seconds(kp: KioskProcess) -> float:
    """User + system CPU time of a kiosk process so far (Linux /proc)."""
    fields = Path(f"/proc/{kp.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hub_figures(hub_data: Path) -> tuple[int, int]:
    """On the hub: notebooks stored with a password hash; extra copies of one share."""
    db = hub_data / DB_FILE
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        with_password, copies, distinct = conn.execute(
            "SELECT coalesce(sum(password_hash IS NOT NULL), 0), count(*), count(DISTINCT "
            "json_extract(content, '$.metadata.test_tag')) FROM shares").fetchone()
    return int(with_password), int(copies) - int(distinct)


async def run(shares: int, concurrency: int, fault_rate: float = 0.0) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        hub = await asyncio.to_thread(start_kiosk, [*BASE, "--data-dir", f"{tmp}/hub",
                                                    "--name", "hub"])
        proxy = FaultyProxy(hub.url(), rate=0.0, hang=3.0)
        await proxy.start()
        proxy.away = True
        room = await asyncio.to_thread(start_kiosk, [
            *BASE, "--data-dir", f"{tmp}/room", "--name", "room",
            "--upstream-url", f"http://127.0.0.1:{proxy.port}/api/v1", "--sync-enabled",
            "--sync-interval", "1", "--sync-concurrency", str(concurrency),
            *(["--sync-timeout", "2"] if fault_rate else [])])
        try:
            async with aiohttp.ClientSession() as http:
                base = room.url()
                async with http.post(f"{base}/api/v1/auth/issue") as r:
                    token = (await r.json())["token"]
                headers = {"Authorization": f"Bearer {token}"}
                sem = asyncio.Semaphore(16)

                async def share(i: int) -> None:
                    nb = make_notebook(f"print({i})", pad_bytes=2000)
                    nb["metadata"]["test_tag"] = f"b{i}"
                    async with sem, http.post(f"{base}/api/v1/notebooks", headers=headers,
                                              json={"notebook": nb}) as r:
                        assert r.status == 201, await r.text()

                t0 = time.monotonic()
                await asyncio.gather(*(share(i) for i in range(shares)))
                queued_in = time.monotonic() - t0
                before = 0
                for _ in range(100):  # the status's counts refresh once per sync round
                    async with http.get(f"{base}/api/kiosk/status") as r:
                        before = (await r.json())["sync"]["queued"]
                    if before >= shares:
                        break
                    await asyncio.sleep(0.1)
                cpu_hub, cpu_room = cpu_seconds(hub), cpu_seconds(room)
                proxy.away = False  # the hub comes back
                proxy.rate = fault_rate
                t1 = time.monotonic()
                status: dict[str, object] = {}
                while time.monotonic() - t1 < 600:
                    async with http.get(f"{base}/api/kiosk/status") as r:
                        status = (await r.json())["sync"]
                    if status["queued"] == 0 and status["in_flight"] == 0:
                        break
                    await asyncio.sleep(0.1)
                drain = time.monotonic() - t1
                cpu_hub, cpu_room = cpu_seconds(hub) - cpu_hub, cpu_seconds(room) - cpu_room
                secret = (Path(tmp) / "hub" / "admin-secret").read_text().strip()
                async with http.get(f"{hub.url()}/api/admin/shares?limit=1",
                                    headers={"Authorization": f"Bearer {secret}"}) as r:
                    on_hub = (await r.json())["total"]
        finally:
            await proxy.close()
            room.stop()
            hub.stop()
        with_password, duplicates = hub_figures(Path(tmp) / "hub")
    return {"shares": shares, "concurrency": concurrency, "fault_rate": fault_rate,
            "faults": proxy.stats.faults() - proxy.stats.away_refused,
            "queued_before": before,
            "queue_fill_s": round(queued_in, 2), "drain_s": round(drain, 2),
            "shares_per_s": round(shares / drain, 1), "on_hub": on_hub,
            "synced": status.get("synced"), "duplicates_on_hub": duplicates,
            "left_queued": status.get("queued"), "retries": status.get("retries"),
            "possible_duplicates": status.get("possible_duplicates"),
            "sent_with_password": with_password, "hub_cpu_s": round(cpu_hub, 1),
            "classroom_cpu_s": round(cpu_room, 1), "proxy_requests": proxy.stats.forwarded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shares", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.shares, args.concurrency, args.fault_rate))))


if __name__ == "__main__":
    main()
