"""Class start: N students cold-start JupyterLite through a classroom-sized link.

Two network namespaces joined by a veth pair stand for the kiosk and the classroom;
``tc tbf`` on both ends limits the link (50 and 20 Mbit/s by default: a Pi's Wi-Fi with a
good and a poor signal). Every simulated student connects from her own address in the
classroom namespace, as on a real Wi-Fi. The servers compared serve the same bundle:
the kiosk with class-start scheduling (``--link-mbit`` set to the link's rate), the
kiosk without it, nginx (``gzip_static on``) and ``python -m http.server``;
``bench/students.py`` replays a real browser's cold-start request list
(``bench/data/cold-start-<profile>.json``, captured by ``bench/capture_cold_start.py``)
for every student, all at once or arriving at random (seeded) over ``--spread-s``.

Reported per scenario (arrivals × rate) and server: the median student's time from her
arrival to having everything (and its ratio to nginx's median in the same run), the
last student's finish from the start of the run and its ratio to the physical bound,
the app shell's time from arrival (everything the page fetched before the first Python
runtime file: what it needs to show the notebook) for the median and the slowest
student, bytes sent, and the worst per-student ratio to nginx (the same student when
arrivals are spread; the k-th to finish when all arrive at once). The bound: the link
cannot finish before, for every arrival, that arrival's time plus the bytes of
everyone arriving then or later over the rate.

Needs root (namespaces, tc). Bounded: every run has a time limit, and the namespaces
are removed at the end. ``--parallel`` gives every server its own link and runs them
at the same time (what the tables in docs/performance.md used: the CPU is shared, so
side by side in one run is the fair comparison); without it the servers take turns.

    sudo .venv/bin/python bench/class_start.py [--students 30] [--rates 50,20] \\
        [--arrivals once,spread] [--parallel] [--out report.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.servers import servers  # noqa: E402
from kiosk.bundle.active import current_bundle  # noqa: E402

SERVER_IP, CLIENT_IP = "10.200.7.1", "10.200.7.2"
ALL_SERVERS = "kiosk-sched,kiosk,nginx,http.server"


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def student_ips(students: int) -> list[str]:
    """One source address per student in the classroom namespace (10.200.7.10 onwards)."""
    if students > 240:
        raise ValueError("at most 240 students")
    return [f"10.200.7.{10 + i}" for i in range(students)]


@contextlib.contextmanager
def classroom(rate_mbit: float, students: int = 0) -> Iterator[tuple[str, str]]:
    """Two namespaces and a shaped veth link between them; removed on exit.

    The classroom end also holds :func:`student_ips` for ``students`` students.
    """
    tag = uuid.uuid4().hex[:6]
    srv, cli = f"kb-srv-{tag}", f"kb-cli-{tag}"
    veth_s, veth_c = f"kbs{tag}", f"kbc{tag}"
    try:
        sh("ip", "netns", "add", srv)
        sh("ip", "netns", "add", cli)
        sh("ip", "link", "add", veth_s, "type", "veth", "peer", "name", veth_c)
        sh("ip", "link", "set", veth_s, "netns", srv)
        sh("ip", "link", "set", veth_c, "netns", cli)
        for ns, dev, ip in ((srv, veth_s, SERVER_IP), (cli, veth_c, CLIENT_IP)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            if rate_mbit > 0:  # 0: an unshaped veth (a fast link)
                sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                   "rate", f"{rate_mbit}mbit", "burst", "64kb", "latency", "400ms")
        for ip in student_ips(students):
            sh("ip", "-n", cli, "addr", "add", f"{ip}/24", "dev", veth_c)
        yield srv, cli
    finally:
        for ns in (srv, cli):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def run_students(cli_ns: str, base: str, requests: Path, students: int, limit_s: float, *,
                 spread_s: float = 0.0, seed: int = 1, every_s: float = 0.0) -> dict[str, Any]:
    """bench/students.py in the classroom namespace, one address per student."""
    out = subprocess.run(
        ["ip", "netns", "exec", cli_ns, sys.executable, str(REPO / "bench" / "students.py"),
         "--base", base, "--requests", str(requests), "--students", str(students),
         "--timeout", str(limit_s), "--source-ips", ",".join(student_ips(students)),
         "--spread-s", str(spread_s), "--seed", str(seed), "--every-s", str(every_s)],
        capture_output=True, text=True, check=True,
        timeout=limit_s + spread_s + every_s * students + 60)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bound_s(per_student: list[dict[str, Any]], rate_mbit: float) -> float:
    """The earliest the link could deliver everything, given the arrivals."""
    rate = rate_mbit * 1e6 / 8
    ordered = sorted(per_student, key=lambda s: s["arrived_s"])
    best, later_bytes = 0.0, 0
    for s in reversed(ordered):
        later_bytes += s["bytes"]
        best = max(best, s["arrived_s"] + later_bytes / rate)
    return best


def run_server(name: str, bundle: Path, requests: Path, students: int, rate_mbit: float,
               spread_s: float, seed: int, limit_s: float,
               link_mbit: float | None = None) -> dict[str, Any]:
    """One server on its own shaped link, one class of students.

    ``link_mbit``: what kiosk-sched is told the link's rate is (default: ``rate_mbit``).
    """
    with classroom(rate_mbit, students) as (srv, cli):
        prefix = ["ip", "netns", "exec", srv]
        with servers(bundle, host=SERVER_IP, prefix=prefix, only=[name],
                     link_mbit=link_mbit or rate_mbit) as running:
            base = f"http://{SERVER_IP}:{running[name].port}"
            result = run_students(cli, base, requests, students, limit_s,
                                  spread_s=spread_s, seed=seed)
    bound = bound_s(result["per_student"], rate_mbit) if rate_mbit > 0 else 0.0
    return {"server": name, **result, "bound_s": round(bound, 2),
            "ratio_to_bound": round(result["last_done_s"] / bound, 3) if bound else None}


def compare(rows: list[dict[str, Any]]) -> None:
    """Add each server's ratios to nginx's figures of the same scenario."""
    nginx = next((r for r in rows if r["server"] == "nginx"), None)
    if nginx is None:
        return
    at_once = all(s["arrived_s"] < 1 for s in nginx["per_student"])
    for row in rows:
        row["median_x_nginx"] = round(row["median_done_s"] / nginx["median_done_s"], 3)
        if at_once:
            # Students arriving together are interchangeable: compare the k-th to finish.
            mine = sorted(row["per_student"], key=lambda s: s["seconds"])
            theirs = sorted(nginx["per_student"], key=lambda s: s["seconds"])
        else:
            mine, theirs = row["per_student"], nginx["per_student"]
        pairs = zip(mine, theirs, strict=True)
        row["worst_student_x_nginx"] = round(max(a["seconds"] / b["seconds"]
                                                 for a, b in pairs), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rates", default="50,20",
                        help="link rates in Mbit/s (0: unshaped, a fast link)")
    parser.add_argument("--link-mbit", type=float,
                        help="the rate kiosk-sched is configured for (default: the link's)")
    parser.add_argument("--arrivals", default="once,spread",
                        help="'once' (all at the same moment) and/or 'spread'")
    parser.add_argument("--spread-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="science")
    parser.add_argument("--requests", type=Path)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--limit-s", type=float, default=1200)
    parser.add_argument("--servers", default=ALL_SERVERS)
    parser.add_argument("--parallel", action="store_true",
                        help="every server on its own link, all at the same time")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("class_start needs root (network namespaces and tc)")
    requests = args.requests or REPO / "bench" / "data" / f"cold-start-{args.profile}.json"
    if not requests.exists():
        raise SystemExit(f"{requests} is missing: run bench/capture_cold_start.py first")
    bundle = args.bundle or current_bundle(REPO / "bundles" / "dist")
    if bundle is None:
        raise SystemExit("no bundle: run 'make bundle'")
    bundle = bundle.resolve()
    wanted = args.servers.split(",")
    scenarios = []
    for rate in (float(r) for r in args.rates.split(",")):
        for arrival in args.arrivals.split(","):
            spread = {"once": 0.0, "spread": args.spread_s}[arrival]
            rows: list[dict[str, Any]] = []

            def one(name: str, rate: float = rate, spread: float = spread) -> dict[str, Any]:
                return run_server(name, bundle, requests, args.students, rate, spread,
                                  args.seed, args.limit_s, args.link_mbit)

            if args.parallel:
                with ThreadPoolExecutor(len(wanted)) as pool:
                    rows = list(pool.map(one, wanted))
            else:
                rows = [one(name) for name in wanted]
            compare(rows)
            scenario = {"rate_mbit": rate, "spread_s": spread, "rows": rows}
            scenarios.append(scenario)
            print(scenario_markdown(scenario, args.students), flush=True)
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "students": args.students,
              "parallel": args.parallel, "requests_file": str(requests),
              "bundle": str(bundle), "scenarios": scenarios}
    print(markdown(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "–" if value is None else format(value, fmt)


def scenario_markdown(scenario: dict[str, Any], students: int) -> str:
    spread = scenario["spread_s"]
    arrivals = "at once" if spread == 0 else f"over {spread:.0f} s"
    link = (f"{scenario['rate_mbit']:.0f} Mbit/s" if scenario["rate_mbit"] > 0
            else "unshaped veth")
    lines = [f"**{students} students arriving {arrivals}, {link}**",
             "",
             "| server | median done (s) | × nginx | last done (s) | × bound | "
             "app shell: median / last (s) | worst student × nginx | MiB sent | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in scenario["rows"]:
        lines.append(
            f"| {r['server']} | {r['median_done_s']:.1f} | {_num(r.get('median_x_nginx'), '.2f')}"
            f" | {r['last_done_s']:.1f} | {_num(r['ratio_to_bound'], '.2f')} | "
            f"{_num(r['median_shell_s'])} / {_num(r['last_shell_s'])} | "
            f"{_num(r.get('worst_student_x_nginx'), '.2f')} | {r['bytes'] / 1048576:.0f} | "
            f"{r['errors']} |")
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    mode = "each server on its own link, all at once" if report.get("parallel") else \
        "servers in turn"
    head = f"_{report['date']}, {mode}; bundle {Path(report['bundle']).name}._"
    parts = [head] + [scenario_markdown(s, report["students"]) for s in report["scenarios"]]
    return "\n\n".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
