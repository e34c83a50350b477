"""Benchmark: small share pages while hostile notebooks render (issue 17, item 2).

Starts its own `kiosk serve` (fresh data directory, loopback, port 0) with the cell
limit raised so that hostile notebooks really reach a render worker and run into the
time limit (``--render-timeout``), shares ``--hostile`` notebooks of 15,000 empty cells
and ``--small`` small notebooks, then keeps every hostile page being requested while
each small page is opened once (each one a real, uncached render). Prints the small
pages' latency (p50, p99, max) and how long the hostile pages took.

    .venv/bin/python bench/hostile_render.py [--small 40] [--hostile 2] [--out result.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.conftest import start_kiosk  # noqa: E402
from tests.sharing_helpers import make_notebook  # noqa: E402


def hostile(cells: int) -> dict[str, Any]:
    nb = make_notebook("x = 1")
    nb["cells"] = [{"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:8],
                    "metadata": {}, "outputs": [], "source": []} for _ in range(cells)]
    return nb


async def share(session: aiohttp.ClientSession, base: str, nb: dict[str, Any]) -> str:
    async with session.post(f"{base}/api/v1/auth/issue") as resp:
        token = (await resp.json())["token"]
    async with session.post(f"{base}/api/v1/notebooks", data=json.dumps({"notebook": nb}),
                            headers={"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json"}) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["notebook"]["readable_id"])


async def timed(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(url) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return time.perf_counter() - started


async def run(args: argparse.Namespace, base: str) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        hostile_ids = [await share(session, base, hostile(args.cells))
                       for _ in range(args.hostile)]
        small_ids = [await share(session, base, make_notebook(f"print({i})"))
                     for i in range(args.small + 1)]
        await timed(session, f"{base}/s/{small_ids.pop()}")  # the worker is warm
        hostile_tasks = [asyncio.create_task(timed(session, f"{base}/s/{rid}"))
                         for rid in hostile_ids]
        await asyncio.sleep(0.5)
        small_times = []
        for rid in small_ids:
            small_times.append(await timed(session, f"{base}/s/{rid}"))
        hostile_times = await asyncio.gather(*hostile_tasks)
    small_times.sort()
    p99 = small_times[min(len(small_times) - 1, int(len(small_times) * 0.99))]
    return {"small_pages": len(small_times), "hostile_pages": len(hostile_times),
            "hostile_cells": args.cells, "render_timeout_s": args.render_timeout,
            "small_p50_ms": round(statistics.median(small_times) * 1000, 1),
            "small_p99_ms": round(p99 * 1000, 1),
            "small_max_ms": round(small_times[-1] * 1000, 1),
            "hostile_max_s": round(max(hostile_times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=40)
    parser.add_argument("--hostile", type=int, default=2)
    parser.add_argument("--cells", type=int, default=15_000)
    parser.add_argument("--render-timeout", type=float, default=10.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kiosk = start_kiosk(["--host", "127.0.0.1", "--port", "0", "--data-dir", tmp,
                             "--no-mdns-enabled", "--name", "bench",
                             "--render-max-cells", "100000",
                             "--render-timeout", str(args.render_timeout)])
        try:
            result = asyncio.run(run(args, kiosk.url()))
        finally:
            kiosk.stop()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
