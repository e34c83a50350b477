"""Benchmark of the sharing API: 60 concurrent clients on loopback.

Starts its own `kiosk serve` (fresh data directory, loopback, port 0), then runs
``--clients`` concurrent clients; each issues a token, POSTs a ~200 KB notebook and
PUTs an update of it, ``--rounds`` times (bounded by ``--max-seconds``). Prints p50 /
p99 latency per operation and overall, and shares per second.

    .venv/bin/python bench/share_api.py [--clients 60] [--rounds 5] [--kib 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.conftest import start_kiosk  # noqa: E402

CONTENT_KINDS = ("class", "image", "text")


def notebook(kib: int, tag: str, kind: str = "class") -> str:
    """A ~``kib`` KiB notebook; ``kind`` decides how compressible it is.

    * ``class`` (default): what a 200 KB classroom notebook is made of — half a plot
      (a PNG's base64: near-random bytes) and half a printed table of numbers;
    * ``image``: only the PNG-like base64 (the worst case for compression);
    * ``text``: one output line repeated (the best case).
    """
    rng = random.Random(tag)
    target = kib * 1024
    outputs: list[dict[str, object]] = []
    if kind in ("class", "image"):
        share = target if kind == "image" else target // 2
        png = base64.b64encode(rng.randbytes(share * 3 // 4)).decode()
        outputs.append({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": png, "text/plain": ["<Figure size 640x480>"]}})
    if kind in ("class", "text"):
        share = target if kind == "text" else target // 2
        if kind == "text":
            rows = ["x" * 99 + "\n"] * (share // 100)
        else:
            rows = [f"{i:5d}  " + "  ".join(f"{rng.gauss(50, 15):8.3f}" for _ in range(8)) + "\n"
                    for i in range(share // 88)]
        outputs.append({"output_type": "stream", "name": "stdout", "text": rows})
    nb = {
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": f"# Bench {tag}"},
            {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1,
             "source": "df.describe()\ndf.plot()", "outputs": outputs},
        ],
        "metadata": {"kernelspec": {"name": "python", "display_name": "Python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    return json.dumps(nb)


def bodies(rounds: int, kib: int, n: int, kind: str) -> list[tuple[bytes, bytes]]:
    """One client's (POST body, PUT body) per round, made before the clock starts.

    Building a 200 KB JSON text costs the load generator a few milliseconds of CPU; done
    inside the timed loop it would stall the other 59 clients' coroutines and be
    counted as the kiosk's latency.
    """
    return [(('{"notebook": ' + notebook(kib, f"{n}-{r}", kind) + "}").encode(),
             notebook(kib, f"{n}-{r}-v2", kind).encode()) for r in range(rounds)]


async def client(session: aiohttp.ClientSession, url: str, work: list[tuple[bytes, bytes]],
                 lat: dict[str, list[float]], deadline: float) -> int:
    shared = 0
    for body, update in work:
        if time.monotonic() > deadline:
            break
        t = time.perf_counter()
        async with session.post(f"{url}/auth/issue") as resp:
            assert resp.status == 200, resp.status
            token = (await resp.json())["token"]
        lat["issue"].append(time.perf_counter() - t)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        t = time.perf_counter()
        async with session.post(f"{url}/notebooks", data=body, headers=headers) as resp:
            assert resp.status == 201, (resp.status, await resp.text())
            share_id = (await resp.json())["notebook"]["id"]
        lat["post"].append(time.perf_counter() - t)
        shared += 1
        t = time.perf_counter()
        async with session.put(f"{url}/notebooks/{share_id}", data=update,
                               headers=headers) as resp:
            assert resp.status == 200, (resp.status, await resp.text())
            await resp.read()
        lat["put"].append(time.perf_counter() - t)
    return shared


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


async def run(args: argparse.Namespace, port: int) -> dict[str, object]:
    url = f"http://127.0.0.1:{port}/api/v1"
    lat: dict[str, list[float]] = {"issue": [], "post": [], "put": []}
    connector = aiohttp.TCPConnector(limit=args.clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up (schema compile, first connections) is not measured.
        await client(session, url, bodies(1, args.kib, -1, args.content),
                     {"issue": [], "post": [], "put": []}, time.monotonic() + 30)
        work = [bodies(args.rounds, args.kib, n, args.content) for n in range(args.clients)]
        start = time.perf_counter()
        deadline = time.monotonic() + args.max_seconds
        counts = await asyncio.gather(*(client(session, url, work[n], lat, deadline)
                                        for n in range(args.clients)))
        wall = time.perf_counter() - start
    every = lat["issue"] + lat["post"] + lat["put"]
    result: dict[str, object] = {
        "clients": args.clients, "kib": args.kib, "content": args.content, "shares": sum(counts),
        "requests": len(every), "seconds": round(wall, 2),
        "shares_per_s": round(sum(counts) / wall, 1),
        "requests_per_s": round(len(every) / wall, 1),
    }
    for name, values in [*lat.items(), ("all", every)]:
        result[f"{name}_p50_ms"] = round(pct(values, 50), 1)
        result[f"{name}_p99_ms"] = round(pct(values, 99), 1)
    result["post_mean_ms"] = round(statistics.mean(lat["post"]) * 1000, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kib", type=int, default=200)
    parser.add_argument("--content", choices=CONTENT_KINDS, default="class",
                        help="what the notebooks hold (see notebook())")
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--port", type=int, help="use a kiosk already running on this "
                        "loopback port (its rate limits must allow the load)")
    args = parser.parse_args()
    if args.port:
        result = asyncio.run(run(args, args.port))
        print(json.dumps(result) if args.json else
              " ".join(f"{k}={v}" for k, v in result.items()))
        return 0
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as data_dir:
        kiosk = start_kiosk(["--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir,
                             "--no-mdns-enabled", "--name", "benchkiosk",
                             "--rate-issue-per-minute", "1000000",
                             "--rate-post-per-minute", "1000000"])
        try:
            result = asyncio.run(run(args, kiosk.port))
        finally:
            kiosk.stop()
    if args.json:
        print(json.dumps(result))
    else:
        print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
