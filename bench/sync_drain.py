"""Time to drain a sync backlog: 1,000 shares queued while the hub is away.

Two real kiosks on loopback (classroom -> hub) with a switchable proxy between them
(tests.sync_helpers.FaultyProxy with no faults, "away" while the backlog builds).
Prints one JSON line. Usage: .venv/bin/python -m bench.sync_drain [--shares N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.conftest import start_kiosk
from tests.sharing_helpers import make_notebook
from tests.sync_helpers import FaultyProxy

BASE = ["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled",
        "--rate-post-per-minute", "1000000", "--rate-issue-per-minute", "1000000"]


async def run(shares: int, concurrency: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        hub = await asyncio.to_thread(start_kiosk, [*BASE, "--data-dir", f"{tmp}/hub",
                                                    "--name", "hub"])
        proxy = FaultyProxy(hub.url(), rate=0.0)
        await proxy.start()
        proxy.away = True
        room = await asyncio.to_thread(start_kiosk, [
            *BASE, "--data-dir", f"{tmp}/room", "--name", "room",
            "--upstream-url", f"http://127.0.0.1:{proxy.port}/api/v1", "--sync-enabled",
            "--sync-interval", "1", "--sync-concurrency", str(concurrency)])
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
                async with http.get(f"{base}/api/kiosk/status") as r:
                    before = (await r.json())["sync"]["queued"]
                proxy.away = False  # the hub comes back
                t1 = time.monotonic()
                status: dict[str, object] = {}
                while time.monotonic() - t1 < 600:
                    async with http.get(f"{base}/api/kiosk/status") as r:
                        status = (await r.json())["sync"]
                    if status["queued"] == 0 and status["in_flight"] == 0:
                        break
                    await asyncio.sleep(0.1)
                drain = time.monotonic() - t1
                secret = (Path(tmp) / "hub" / "admin-secret").read_text().strip()
                async with http.get(f"{hub.url()}/api/admin/shares?limit=1",
                                    headers={"Authorization": f"Bearer {secret}"}) as r:
                    on_hub = (await r.json())["total"]
        finally:
            await proxy.close()
            room.stop()
            hub.stop()
    return {"shares": shares, "concurrency": concurrency, "queued_before": before,
            "queue_fill_s": round(queued_in, 2), "drain_s": round(drain, 2),
            "shares_per_s": round(shares / drain, 1), "on_hub": on_hub,
            "left_queued": status.get("queued"), "retries": status.get("retries"),
            "possible_duplicates": status.get("possible_duplicates")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shares", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.shares, args.concurrency))))


if __name__ == "__main__":
    main()
