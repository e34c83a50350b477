"""Simulated students: each replays a browser's cold-start request list against one server.

Run inside the client network namespace by ``bench/class_start.py``; usable alone:

    python bench/students.py --base http://10.200.0.1:8000 --requests list.json --students 30

Each student opens up to six connections (as a browser does per origin over HTTP/1.1)
and fetches the list in order, sending the ``Accept-Encoding`` the browser sent, and
never decompressing (bytes are counted as they arrive on the wire). With
``--source-ips`` every student connects from her own address (so that a server can tell
students apart, as on a real classroom Wi-Fi); ``--spread-s`` spreads the arrivals
uniformly at random (``--seed``) over that many seconds, else all start at once.

Prints one JSON line: the run as a whole (last student done, median, bytes, errors)
and, per student in order of arrival, when she arrived, when her app shell was
complete (every request the capture made before the first Python runtime file: what
the page needs to show the notebook), when the first byte of her first wheel
arrived, and when she had everything, in seconds from the start of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp

PER_STUDENT_CONNECTIONS = 6

RUNTIME_NAMES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.wasm", "pyodide.asm.js",
                 "python_stdlib.zip", "pyodide-lock.json")


def request_kind(path: str) -> str:
    """'runtime', 'wheel' or 'shell', for a request path (query string ignored)."""
    name = path.split("?", 1)[0].rsplit("/", 1)[-1]
    if name in RUNTIME_NAMES:
        return "runtime"
    if name.endswith((".whl", ".zip", ".tar")):
        return "wheel"
    return "shell"


def shell_count(requests: list[dict[str, Any]]) -> int:
    """How many requests of the list come before the first runtime file: the app shell."""
    for i, item in enumerate(requests):
        if request_kind(item["path"]) == "runtime":
            return i
    return len(requests)


async def student(base: str, requests: list[dict[str, Any]], timeout: float,
                  source_ip: str | None, t0: float) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=PER_STUDENT_CONNECTIONS, force_close=False,
                                     local_addr=(source_ip, 0) if source_ip else None)
    queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
    for i, item in enumerate(requests):
        queue.put_nowait((i, item))
    n_shell = shell_count(requests)
    shell_left = n_shell
    stats: dict[str, Any] = {"bytes": 0, "errors": 0, "requests": 0, "source_ip": source_ip,
                             "arrived_s": time.monotonic() - t0, "shell_done_s": None,
                             "first_wheel_byte_s": None}
    async with aiohttp.ClientSession(
            connector=connector, auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=timeout)) as session:

        async def worker() -> None:
            nonlocal shell_left
            while not queue.empty():
                i, item = queue.get_nowait()
                headers = {"Accept-Encoding": item.get("accept_encoding", "gzip, deflate, br")}
                wheel = request_kind(item["path"]) == "wheel"
                try:
                    async with session.get(base + item["path"], headers=headers) as resp:
                        async for chunk in resp.content.iter_any():
                            if wheel and stats["first_wheel_byte_s"] is None and chunk:
                                stats["first_wheel_byte_s"] = time.monotonic() - t0
                            stats["bytes"] += len(chunk)
                        stats["requests"] += 1
                        if resp.status >= 400:
                            stats["errors"] += 1
                except (aiohttp.ClientError, TimeoutError):
                    stats["errors"] += 1
                if i < n_shell:
                    shell_left -= 1
                    if shell_left == 0:
                        stats["shell_done_s"] = time.monotonic() - t0

        await asyncio.gather(*[worker() for _ in range(PER_STUDENT_CONNECTIONS)])
    stats["done_s"] = time.monotonic() - t0
    stats["seconds"] = stats["done_s"] - stats["arrived_s"]
    return stats


def arrivals(students: int, spread_s: float, seed: int, every_s: float = 0.0) -> list[float]:
    """Seconds after the start at which each student arrives, in order (seeded).

    ``every_s``: one student every so many seconds instead (a fixed order of arrival).
    """
    if every_s > 0:
        return [i * every_s for i in range(students)]
    if spread_s <= 0:
        return [0.0] * students
    rng = random.Random(seed)
    return sorted(rng.uniform(0, spread_s) for _ in range(students))


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    requests = json.loads(Path(args.requests).read_text())["requests"]
    ips = args.source_ips.split(",") if args.source_ips else [None] * args.students
    if len(ips) < args.students:
        raise SystemExit(f"{args.students} students need as many --source-ips")
    t0 = time.monotonic()

    async def arrive(i: int, at: float) -> dict[str, Any]:
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        return await student(args.base, requests, args.timeout, ips[i], t0)

    results = await asyncio.gather(*[arrive(i, at) for i, at in
                                     enumerate(arrivals(args.students, args.spread_s,
                                                        args.seed, args.every_s))])
    shells = [r["shell_done_s"] - r["arrived_s"] for r in results
              if r["shell_done_s"] is not None]
    return {
        "students": args.students,
        "last_done_s": round(max(r["done_s"] for r in results), 2),
        "median_done_s": round(statistics.median(r["seconds"] for r in results), 2),
        "last_shell_s": round(max(shells), 2) if shells else None,
        "median_shell_s": round(statistics.median(shells), 2) if shells else None,
        "bytes": sum(r["bytes"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "per_student": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}
                        for r in results],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--source-ips", default="",
                        help="comma-separated: one source address per student")
    parser.add_argument("--spread-s", type=float, default=0.0,
                        help="arrivals uniformly at random over this many seconds (0: at once)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every-s", type=float, default=0.0,
                        help="one student every so many seconds (overrides --spread-s)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
