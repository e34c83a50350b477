"""Simulated students: each replays a browser's cold-start request list against one server.

Run inside the client network namespace by ``bench/class_start.py``; usable alone:

    python bench/students.py --base http://10.200.0.1:8000 --requests list.json --students 30

Each student opens up to six connections (as a browser does per origin over HTTP/1.1)
and fetches the list in order, sending the ``Accept-Encoding`` the browser sent, and
never decompressing (bytes are counted as they arrive on the wire). Prints one JSON
line: the time until the last student had everything, bytes received, errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

PER_STUDENT_CONNECTIONS = 6


async def student(base: str, requests: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=PER_STUDENT_CONNECTIONS, force_close=False)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    stats = {"bytes": 0, "errors": 0, "requests": 0}
    started = time.monotonic()
    async with aiohttp.ClientSession(
            connector=connector, auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=timeout)) as session:

        async def worker() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                headers = {"Accept-Encoding": item.get("accept_encoding", "gzip, deflate, br")}
                try:
                    async with session.get(base + item["path"], headers=headers) as resp:
                        async for chunk in resp.content.iter_any():
                            stats["bytes"] += len(chunk)
                        stats["requests"] += 1
                        if resp.status >= 400:
                            stats["errors"] += 1
                except (aiohttp.ClientError, TimeoutError):
                    stats["errors"] += 1

        await asyncio.gather(*[worker() for _ in range(PER_STUDENT_CONNECTIONS)])
    stats["seconds"] = time.monotonic() - started
    return stats


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    requests = json.loads(Path(args.requests).read_text())["requests"]
    started = time.monotonic()
    results = await asyncio.gather(*[student(args.base, requests, args.timeout)
                                     for _ in range(args.students)])
    return {
        "students": args.students,
        "last_done_s": round(time.monotonic() - started, 2),
        "median_done_s": round(sorted(r["seconds"] for r in results)[len(results) // 2], 2),
        "bytes": sum(r["bytes"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
