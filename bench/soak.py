"""Soak: a class of simulated students against one real ``kiosk serve`` for minutes.

Starts ``python -m kiosk serve`` on loopback with a fresh data directory (rate limits
raised: every simulated student comes from 127.0.0.1, where a real class has one
address per laptop), then runs ``--students`` students for ``--minutes``. Each student:

1. arrives at a random moment in the first quarter of the run (at most 60 s) and loads
   the lab: replays the browser's cold-start request list (``bench/data``) over six
   connections, with the ``Accept-Encoding`` the browser sent;
2. gets a token and shares a notebook (``POST /api/v1/notebooks``);
3. then, until the end, autosaves every ``--autosave-seconds`` (±20 %) with a ``PUT``
   of a new version, opens a classmate's share page ``/s/<readable id>`` about every
   other period, and reloads the whole lab about one period in twenty.

At the end every share is read back through the API and must hold exactly the last
version its student was told was saved. Reported: requests, errors (any failed request or
unexpected status; must be 0), p50/p99 latency in all and per kind, the kiosk's RSS at the
start, peak and end (psutil), and the shares verified.

    .venv/bin/python bench/soak.py                        # 60 students, 10 minutes
    .venv/bin/python bench/soak.py --minutes 1 --students 10 --autosave-seconds 10

The load generator shares the machine with the kiosk, so on 2 cores its own CPU use
inflates the latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.conftest import start_kiosk  # noqa: E402

DEFAULT_REQUESTS = REPO / "bench" / "data" / "cold-start-science.json"
DEFAULT_BUNDLES = REPO / "bundles" / "dist"
PER_STUDENT_CONNECTIONS = 6


def notebook(student: int, version: int, kib: int) -> dict[str, Any]:
    """A valid nbformat 4.5 notebook of about ``kib`` KiB, different for every version."""
    output = [f"{student}:{version}:" + "y" * 90 + "\n"] * max(1, kib * 1024 // 100)
    return {
        "cells": [
            {"cell_type": "markdown", "id": "intro", "metadata": {},
             "source": f"# Student {student}, save {version}"},
            {"cell_type": "code", "id": "work", "metadata": {}, "execution_count": version + 1,
             "source": f"x = {student} * {version}\nprint(x)",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": output}]},
        ],
        "metadata": {"kernelspec": {"name": "python", "display_name": "Python (Pyodide)"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


@dataclass
class Share:
    """One student's share: its ids and the last content the kiosk acknowledged."""

    id: str
    readable_id: str | None
    content: dict[str, Any]


@dataclass
class Tally:
    """Everything the students measured."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    shares: dict[int, Share] = field(default_factory=dict)
    bytes_received: int = 0

    def record(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


class Classroom:
    """The simulated class: ``students`` clients against ``base`` for ``seconds``."""

    def __init__(self, base: str, cold_start: list[dict[str, Any]], *, students: int,
                 seconds: float, autosave_s: float, kib: int = 50, seed: int = 1) -> None:
        self.base = base.rstrip("/")
        self.cold_start = cold_start
        self.students = students
        self.seconds = seconds
        self.autosave_s = autosave_s
        self.kib = kib
        self.rnd = random.Random(seed)
        self.ramp_s = min(60.0, seconds / 4)
        self.tally = Tally()
        self.deadline = 0.0

    async def run(self) -> Tally:
        """Run every student to the end of the period; the tally of all of them."""
        self.deadline = time.monotonic() + self.seconds
        await asyncio.gather(*(self._student(n) for n in range(self.students)))
        return self.tally

    async def _request(self, session: aiohttp.ClientSession, kind: str, method: str,
                       url: str, expect: int, **kwargs: Any) -> Any:
        """One request: its latency under ``kind``; an error unless it answers ``expect``.

        Returns the parsed JSON for JSON answers, the byte count otherwise, None on error.
        """
        started = time.perf_counter()
        try:
            async with session.request(method, url, **kwargs) as resp:
                if resp.content_type == "application/json" and not kind.startswith("bundle"):
                    result: Any = await resp.json()
                else:
                    result = 0
                    async for chunk in resp.content.iter_any():
                        result += len(chunk)
                    self.tally.bytes_received += result
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.tally.record(kind, time.perf_counter() - started)
            self.tally.errors[f"{kind}: {type(exc).__name__}"] += 1
            return None
        self.tally.record(kind, time.perf_counter() - started)
        if status != expect:
            self.tally.errors[f"{kind}: HTTP {status}"] += 1
            return None
        return result

    async def _load_lab(self, session: aiohttp.ClientSession) -> None:
        """Replay the cold-start request list over six connections, as a browser does."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for item in self.cold_start:
            queue.put_nowait(item)

        async def connection() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                headers = {"Accept-Encoding": item.get("accept_encoding", "gzip, deflate")}
                await self._request(session, "bundle", item.get("method", "GET"),
                                    self.base + item["path"], item.get("status", 200),
                                    headers=headers)

        await asyncio.gather(*(connection() for _ in range(PER_STUDENT_CONNECTIONS)))

    async def _student(self, n: int) -> None:
        rnd = random.Random(self.rnd.random())
        api = f"{self.base}/api/v1"
        await asyncio.sleep(rnd.uniform(0, self.ramp_s))
        connector = aiohttp.TCPConnector(limit=PER_STUDENT_CONNECTIONS)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                         timeout=timeout) as session:
            await self._load_lab(session)
            issued = await self._request(session, "issue", "POST", f"{api}/auth/issue", 200)
            if issued is None:
                return
            auth = {"Authorization": f"Bearer {issued['token']}",
                    "Content-Type": "application/json"}
            version = 0
            content = notebook(n, version, self._size(rnd))
            saved = await self._request(session, "post", "POST", f"{api}/notebooks", 201,
                                        headers=auth, data=json.dumps({"notebook": content}))
            if saved is None:
                return
            share = Share(saved["notebook"]["id"], saved["notebook"]["readable_id"], content)
            self.tally.shares[n] = share
            while True:
                pause = self.autosave_s * rnd.uniform(0.8, 1.2)
                if time.monotonic() + pause > self.deadline:
                    break
                await asyncio.sleep(pause)
                version += 1
                content = notebook(n, version, self._size(rnd))
                if await self._request(session, "put", "PUT", f"{api}/notebooks/{share.id}",
                                       200, headers=auth, data=json.dumps(content)) is not None:
                    share.content = content
                if rnd.random() < 0.5:
                    await self._view_classmate(session, rnd)
                if rnd.random() < 0.05:
                    await self._load_lab(session)

    async def _view_classmate(self, session: aiohttp.ClientSession, rnd: random.Random) -> None:
        if not self.tally.shares:
            return
        peer = self.tally.shares[rnd.choice(list(self.tally.shares))]
        await self._request(session, "view", "GET",
                            f"{self.base}/s/{peer.readable_id or peer.id}", 200,
                            headers={"Accept-Encoding": "gzip, deflate"})

    def _size(self, rnd: random.Random) -> int:
        return max(1, round(self.kib * rnd.uniform(0.5, 1.5)))


async def verify_shares(base: str, shares: dict[int, Share]) -> list[str]:
    """Read every share back; the problems found (empty when all hold their last save)."""
    problems: list[str] = []
    api = f"{base.rstrip('/')}/api/v1"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api}/auth/issue") as resp:
            token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for n, share in sorted(shares.items()):
            async with session.get(f"{api}/notebooks/{share.id}", headers=headers) as resp:
                if resp.status != 200:
                    problems.append(f"student {n}: GET {share.id} answered {resp.status}")
                    continue
                body = await resp.json()
            if body["content"] != share.content:
                problems.append(f"student {n}: share {share.id} differs from its last save")
    return problems


class RssSampler:
    """The kiosk process's resident memory: at the start, every ``period`` s, at the end.

    With ``log``, each sample is also appended to that file as it is taken (seconds since
    the start, RSS in MiB, open file descriptors), so a long run's curve survives a run
    that is stopped before its end.
    """

    def __init__(self, pid: int, period: float = 2.0, log: Path | None = None) -> None:
        self.process = psutil.Process(pid)
        self.period = period
        self.log = log
        self.started = time.monotonic()
        self.samples: list[int] = []
        self.times: list[float] = []
        self._task: asyncio.Task[None] | None = None
        if log is not None:
            log.write_text("seconds\trss_mib\tfds\n")
        self._take()

    def _take(self) -> None:
        rss = self.process.memory_info().rss
        elapsed = time.monotonic() - self.started
        self.samples.append(rss)
        self.times.append(elapsed)
        if self.log is not None:
            with self.log.open("a") as out:
                out.write(f"{elapsed:.1f}\t{rss / 1024 / 1024:.2f}\t"
                          f"{self.process.num_fds()}\n")

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            self._take()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._take()

    def at(self, seconds: float) -> int:
        """The first sample taken at or after ``seconds`` into the run (the last if none)."""
        for when, rss in zip(self.times, self.samples, strict=True):
            if when >= seconds:
                return rss
        return self.samples[-1]


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile of ``values`` in milliseconds (nearest rank)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


async def soak(base: str, pid: int, cold_start: list[dict[str, Any]], *, students: int,
               seconds: float, autosave_s: float, kib: int = 50,
               seed: int = 1, rss_log: Path | None = None) -> dict[str, Any]:
    """Run the class against a kiosk already listening at ``base`` (process ``pid``).

    Returns the report (see the module docstring) including ``problems``: the shares
    that did not read back with their last acknowledged content. ``rss_log``: see
    :class:`RssSampler`.
    """
    sampler = RssSampler(pid, log=rss_log)
    sampler.start()
    started = time.monotonic()
    classroom = Classroom(base, cold_start, students=students, seconds=seconds,
                          autosave_s=autosave_s, kib=kib, seed=seed)
    tally = await classroom.run()
    wall = time.monotonic() - started
    await sampler.stop()
    problems = await verify_shares(base, tally.shares)
    every = [v for values in tally.latencies.values() for v in values]
    mib = 1024 * 1024
    report: dict[str, Any] = {
        "students": students, "seconds": round(wall, 1), "autosave_s": autosave_s,
        "notebook_kib": kib, "requests": tally.requests,
        "requests_by_kind": {k: len(v) for k, v in sorted(tally.latencies.items())},
        "errors": sum(tally.errors.values()), "error_kinds": dict(tally.errors),
        "p50_ms": round(percentile(every, 50), 1), "p99_ms": round(percentile(every, 99), 1),
        "by_kind_ms": {k: [round(percentile(v, 50), 1), round(percentile(v, 99), 1)]
                       for k, v in sorted(tally.latencies.items())},
        "mib_received": round(tally.bytes_received / mib, 1),
        "rss_start_mib": round(sampler.samples[0] / mib, 1),
        "rss_peak_mib": round(max(sampler.samples) / mib, 1),
        "rss_end_mib": round(sampler.samples[-1] / mib, 1),
        # At each quarter of the run: does memory level off, or keep growing?
        "rss_quarters_mib": [round(sampler.samples[min(len(sampler.samples) - 1,
                                                       len(sampler.samples) * q // 4)] / mib, 1)
                             for q in (1, 2, 3)],
        # The curve at every tenth of the run, and the growth over its second half: the
        # school-day goal is a plateau (under 5 MiB over the last 30 of 60 minutes).
        "rss_tenths_mib": [round(sampler.at(wall * t / 10) / mib, 1) for t in range(1, 11)],
        "rss_growth_second_half_mib": round((sampler.samples[-1] - sampler.at(wall / 2)) / mib,
                                            1),
        "shares": len(tally.shares), "shares_verified": len(tally.shares) - len(problems),
        "problems": problems,
    }
    return report


def markdown(report: dict[str, Any]) -> str:
    """The report as the docs/performance.md block."""
    kinds = ", ".join(f"{k} {n}" for k, n in report["requests_by_kind"].items())
    rows = ["| kind | requests | p50 (ms) | p99 (ms) |", "|---|---:|---:|---:|"]
    for kind, (p50, p99) in report["by_kind_ms"].items():
        rows.append(f"| {kind} | {report['requests_by_kind'][kind]} | {p50} | {p99} |")
    rows.append(f"| **all** | {report['requests']} | {report['p50_ms']} | {report['p99_ms']} |")
    return "\n".join([
        f"{report['students']} students for {report['seconds']} s (autosave every "
        f"{report['autosave_s']} s, ~{report['notebook_kib']} KiB notebooks): "
        f"**{report['requests']} requests, {report['errors']} errors** ({kinds}); "
        f"{report['mib_received']} MiB received.",
        "",
        *rows,
        "",
        f"Kiosk RSS: start {report['rss_start_mib']} MiB; at each quarter of the run "
        f"{' / '.join(str(q) for q in report.get('rss_quarters_mib', []))} MiB; peak "
        f"{report['rss_peak_mib']} MiB, end {report['rss_end_mib']} MiB. "
        "Shares read back with their last saved content: "
        f"{report['shares_verified']} of {report['shares']}.",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--autosave-seconds", type=float, default=120.0,
                        help="period of each student's autosave PUT (default 120, as JE)")
    parser.add_argument("--kib", type=int, default=50, help="typical notebook size")
    parser.add_argument("--bundles-dir", type=Path, default=DEFAULT_BUNDLES,
                        help="a bundles directory whose 'current' bundle matches --requests")
    parser.add_argument("--requests", type=Path, default=DEFAULT_REQUESTS,
                        help="the cold-start request list to replay")
    parser.add_argument("--out", type=Path, help="also write the report here as JSON")
    parser.add_argument("--rss-log", type=Path,
                        help="append every RSS sample here as it is taken (seconds, MiB, fds)")
    args = parser.parse_args()
    cold_start = json.loads(args.requests.read_text())["requests"]
    tmp = Path(tempfile.mkdtemp(prefix="kiosk-soak-"))
    kiosk = start_kiosk(["--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp / "data"),
                         "--bundles-dir", str(args.bundles_dir), "--no-mdns-enabled",
                         "--name", "soakkiosk", "--rate-issue-per-minute", "1000000",
                         "--rate-post-per-minute", "1000000"], timeout=120)
    try:
        report = asyncio.run(soak(kiosk.url(), kiosk.proc.pid, cold_start,
                                  students=args.students, seconds=args.minutes * 60,
                                  autosave_s=args.autosave_seconds, kib=args.kib,
                                  rss_log=args.rss_log))
        report["kiosk_alive"] = kiosk.proc.poll() is None
    finally:
        kiosk.stop(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report))
    ok = report["errors"] == 0 and not report["problems"] and report["kiosk_alive"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
