"""Capture a real browser's cold start through the kiosk into bench/data/cold-start-<profile>.json.

Starts the kiosk on the active (or given) bundle, opens the profile's welcome notebook
in headless Chromium on a non-secure origin, runs every cell, and records each
request with the Accept-Encoding the browser sent. ``class_start.py`` replays it.

    .venv/bin/python bench/capture_cold_start.py --profile science [--notebook welcome.ipynb]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browserlib import run_scenario  # noqa: E402
from tests.conftest import start_kiosk  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="science")
    parser.add_argument("--bundles-dir", type=Path, default=REPO / "bundles" / "dist")
    parser.add_argument("--notebook", default="welcome.ipynb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        kiosk = start_kiosk(["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled",
                             "--data-dir", data, "--bundles-dir", str(args.bundles_dir),
                             "--host-aliases", "kiosk.test"])  # the LAN name, or 421
        try:
            result = run_scenario("cold_start", {
                "url": f"http://kiosk.test:{kiosk.port}", "path": args.notebook}, timeout=400)
        finally:
            kiosk.stop()
    requests = [r for r in result["requests"] if r["method"] == "GET" and r["status"] < 400]
    out = REPO / "bench" / "data" / f"cold-start-{args.profile}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"profile": args.profile, "notebook": args.notebook,
                               "requests": requests}, indent=1) + "\n")
    raw = sum(r["body_bytes"] for r in requests)
    print(f"{len(requests)} requests, {raw / 1048576:.1f} MiB on the wire -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
