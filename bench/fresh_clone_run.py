"""Time a teacher's first ``make run``: a fresh clone until the kiosk logs "listening".

Usage::

    python bench/fresh_clone_run.py [REPO] [--rev COMMIT] [--cold-compression]
                                    [--cold-extension] [--log FILE]

``REPO`` (default: this checkout) is cloned into a temporary directory and ``make run``
is started there with a private data directory and a free port. Download caches
(``~/.cache/pip``, ``~/.npm``, ``~/.cache/kiosk``) stay warm, as on a machine that
built once before. ``--cold-compression`` gives the bundle builder a cache whose
downloads and build environments are the warm ones but whose compressed-output store
is empty, so every file is compressed again (the worst case for a fresh machine that
only has the downloads); ``--cold-extension`` an empty cache of built notebook
extensions (``scripts/extension-cached.sh``), as on a machine's very first build.
Prints every output line with its time offset, then the seconds to "listening" and
the load average, and stops the kiosk.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
WARM_PARTS = ("npm", "pypi", "carriers", "venvs", "archives", "downloads")


def _cold_compression_cache(tmp: Path) -> Path:
    """A bundle cache sharing the warm downloads but with no compressed outputs."""
    warm = Path(os.environ.get("KIOSK_BUNDLE_CACHE", Path.home() / ".cache/kiosk/bundles"))
    cache = tmp / "bundle-cache"
    cache.mkdir()
    for part in WARM_PARTS:
        if (warm / part).exists():
            (cache / part).symlink_to((warm / part).resolve())
    return cache


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", nargs="?", default=str(HERE))
    parser.add_argument("--rev", default=None, help="check out this commit (e.g. an older "
                        "one, for a before/after comparison)")
    parser.add_argument("--cold-compression", action="store_true")
    parser.add_argument("--cold-extension", action="store_true",
                        help="an empty notebook-extension cache (a machine's very first build)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiosk-fresh-") as tmp_name:
        tmp = Path(tmp_name)
        clone = tmp / "clone"
        subprocess.run(["git", "clone", "-q", args.repo, str(clone)], check=True)
        if args.rev:
            subprocess.run(["git", "-C", str(clone), "checkout", "-q", args.rev], check=True)
        env = {**os.environ, "KIOSK_PORT": "0", "KIOSK_DATA_DIR": str(tmp / "data"),
               "KIOSK_MDNS_ENABLED": "false"}
        if args.cold_compression:
            env["KIOSK_BUNDLE_CACHE"] = str(_cold_compression_cache(tmp))
        if args.cold_extension:
            env["KIOSK_EXTENSION_CACHE"] = str(tmp / "extension-cache")
        started = time.monotonic()
        proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        assert proc.stdout is not None
        listening: float | None = None
        log = args.log.open("w", encoding="utf-8") if args.log else None
        try:
            for line in proc.stdout:
                now = time.monotonic() - started
                text = f"{now:7.1f}  {line.rstrip()}"
                print(text, flush=True)
                if log:
                    log.write(text + "\n")
                if "listening on" in line:
                    listening = now
                    break
                if now > args.timeout:
                    break
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if log:
                log.close()
        load = os.getloadavg()
        if listening is None:
            print(f"make run never reached 'listening' (exit {proc.returncode})")
            return 1
        print(f"RESULT: listening after {listening:.1f} s "
              f"(cold compression: {args.cold_compression}; cold extension: "
              f"{args.cold_extension}; load average "
              f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
