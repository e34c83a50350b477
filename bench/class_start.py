"""Class start: N students cold-start JupyterLite at once through a classroom-sized link.

Two network namespaces joined by a veth pair stand for the kiosk and the classroom;
``tc tbf`` on both ends limits the link (default 50 Mbit/s, like a Pi's Wi-Fi with a
good signal). The kiosk, nginx (``gzip_static on``) and ``python -m http.server``
serve the same bundle in turn; ``bench/students.py`` replays a real browser's
cold-start request list (``bench/data/cold-start-<profile>.json``, captured by
``bench/capture_cold_start.py``) for every student. Reported per server: the time
until the last student has everything, bytes sent, and the ratio to the physical
bound (bytes × 8 ÷ rate). Needs root (namespaces, tc). Bounded: every run has a
time limit, and the namespaces are removed at the end.

    sudo .venv/bin/python bench/class_start.py [--students 30] [--rate-mbit 50]
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.servers import servers  # noqa: E402
from kiosk.bundle.active import current_bundle  # noqa: E402

SERVER_IP, CLIENT_IP = "10.200.7.1", "10.200.7.2"


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@contextlib.contextmanager
def classroom(rate_mbit: float) -> Iterator[tuple[str, str]]:
    """Two namespaces and a shaped veth link between them; removed on exit."""
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
            sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
               "rate", f"{rate_mbit}mbit", "burst", "64kb", "latency", "400ms")
        yield srv, cli
    finally:
        for ns in (srv, cli):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def run_students(cli_ns: str, base: str, requests: Path, students: int,
                 limit_s: float) -> dict[str, float]:
    out = subprocess.run(
        ["ip", "netns", "exec", cli_ns, sys.executable, str(REPO / "bench" / "students.py"),
         "--base", base, "--requests", str(requests), "--students", str(students),
         "--timeout", str(limit_s)],
        capture_output=True, text=True, check=True, timeout=limit_s + 60)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rate-mbit", type=float, default=50.0)
    parser.add_argument("--profile", default="science")
    parser.add_argument("--requests", type=Path)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--limit-s", type=float, default=900)
    parser.add_argument("--servers", default="kiosk,nginx,http.server")
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
    wanted = args.servers.split(",")
    rows = []
    with classroom(args.rate_mbit) as (srv, cli):
        for name in wanted:
            prefix = ["ip", "netns", "exec", srv]
            with servers(bundle.resolve(), host=SERVER_IP, prefix=prefix,
                         only=[name]) as running:
                server = running[name]
                base = f"http://{SERVER_IP}:{server.port}"
                result = run_students(cli, base, requests, args.students, args.limit_s)
            bound = result["bytes"] * 8 / (args.rate_mbit * 1e6)
            row = {"server": name, **result, "bound_s": round(bound, 2),
                   "ratio_to_bound": round(result["last_done_s"] / bound, 3)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "students": args.students,
              "rate_mbit": args.rate_mbit, "requests_file": str(requests),
              "bundle": str(bundle), "rows": rows}
    print(markdown(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


def markdown(report: dict) -> str:  # type: ignore[type-arg]
    lines = ["| server | last student done (s) | median (s) | MiB sent | bound (s) | "
             "× bound | errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        lines.append(f"| {r['server']} | {r['last_done_s']:.1f} | {r['median_done_s']:.1f} | "
                     f"{r['bytes'] / 1048576:.0f} | {r['bound_s']:.1f} | "
                     f"{r['ratio_to_bound']:.2f} | {r['errors']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
