"""Static serving side by side: the kiosk, nginx and ``python -m http.server``, one run.

Serves the same bundle with the three servers on loopback and drives each with
``wrk`` on the bundle's largest file and on a typical small asset, with and without
compression. Prints a Markdown table (requests/s, MB/s, ratio to nginx) and the
kiosk's resident memory idle and under load. Bounded: every wrk run lasts
``--seconds``; everything is stopped at the end.

    .venv/bin/python bench/static_serving.py [--bundle DIR] [--seconds 8] [--out FILE]

Without ``--bundle`` it uses the active bundle in bundles/dist, or a synthetic one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.servers import servers  # noqa: E402
from kiosk.bundle.active import current_bundle  # noqa: E402
from kiosk.bundle.manifest import read_manifest  # noqa: E402

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def run_wrk(port: int, path: str, accept: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-H", f"Accept-Encoding: {accept}", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    tr = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?)B", out)
    assert tr is not None, out
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "mbps": float(tr.group(1)) * _UNITS[tr.group(2)] / 1e6,
            "non2xx": float(errors.group(1)) if errors else 0.0,
            "socket_errors": 1.0 if sock_err else 0.0}


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 1048576


def pick_files(bundle: Path) -> dict[str, tuple[str, int]]:
    manifest = read_manifest(bundle)
    files = manifest.files
    largest = max(files.values(), key=lambda r: r.size)
    js = sorted((r for r in files.values() if r.path.endswith(".js") and "gzip" in r.compressed),
                key=lambda r: r.size)
    small = js[len(js) // 2] if js else min(files.values(), key=lambda r: abs(r.size - 20000))
    return {"large": ("/" + largest.path, largest.size), "small": ("/" + small.path, small.size)}


def default_bundle() -> Path:
    active = current_bundle(REPO / "bundles" / "dist")
    if active is not None and active.is_dir():
        return active
    sys.path.insert(0, str(REPO / "tests"))
    from tests.fakebundle import make_bundle

    tmp = Path(tempfile.mkdtemp(prefix="kiosk-bench-bundle-"))
    return make_bundle(tmp, activate=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    bundle = (args.bundle or default_bundle()).resolve()
    files = pick_files(bundle)
    results: list[dict[str, object]] = []
    kiosk_rss: dict[str, float] = {}
    with servers(bundle, args.nginx_workers) as running:
        time.sleep(1.0)
        kiosk_pid = running["kiosk"].proc.pid
        kiosk_rss["idle"] = rss_mib(kiosk_pid)
        peak = [kiosk_rss["idle"]]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                with contextlib.suppress(psutil.Error):
                    peak.append(rss_mib(kiosk_pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for label, (path, size) in files.items():
            for accept in ("identity", "gzip", "br, gzip"):
                for name, server in running.items():
                    if accept != "identity" and name == "http.server":
                        continue  # it cannot compress; its identity row stands for it
                    if accept == "br, gzip" and name == "nginx":
                        continue  # Debian's nginx has no brotli module
                    stats = run_wrk(server.port, path, accept, args.seconds, args.connections)
                    if stats["non2xx"]:
                        raise SystemExit(f"{name} answered errors for {path}: check the set-up")
                    results.append({"file": label, "path": path, "size": size,
                                    "accept": accept, "server": name, **stats})
                    print(f"{label:5} {accept:9} {name:11} {stats['rps']:9.0f} req/s "
                          f"{stats['mbps']:9.1f} MB/s", flush=True)
        stop.set()
        sampler.join()
        kiosk_rss["load_peak"] = max(peak)
        time.sleep(1.0)
        kiosk_rss["after"] = rss_mib(kiosk_pid)
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": (f"{platform.machine()}, {os.cpu_count()} cores, "
                    f"Python {platform.python_version()}"),
        "bundle": str(bundle), "files": files, "results": results, "kiosk_rss_mib": kiosk_rss,
        "seconds": args.seconds, "connections": args.connections,
        "nginx_workers": args.nginx_workers,
    }
    print(markdown(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


def markdown(report: dict) -> str:  # type: ignore[type-arg]
    rows = ["| file | Accept-Encoding | server | req/s | MB/s | × nginx (req/s) |",
            "|---|---|---|---:|---:|---:|"]
    results = report["results"]
    for r in results:
        ref = next((x for x in results if x["server"] == "nginx" and x["file"] == r["file"]
                    and x["accept"] == (r["accept"] if r["accept"] != "br, gzip" else "gzip")),
                   None)
        ratio = f"{r['rps'] / ref['rps']:.2f}" if ref else "–"
        rows.append(f"| {r['file']} ({r['size'] / 1024:.0f} KiB) | {r['accept']} | {r['server']} "
                    f"| {r['rps']:.0f} | {r['mbps']:.1f} | {ratio} |")
    rss = report["kiosk_rss_mib"]
    rows.append("")
    rows.append(f"Kiosk RSS: idle {rss['idle']:.1f} MiB, peak under load "
                f"{rss['load_peak']:.1f} MiB, after {rss['after']:.1f} MiB.")
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
