"""``make bench``: run every benchmark and write their tables into docs/performance.md.

Each benchmark's table replaces the block between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` in docs/performance.md, stamped with the machine and the date.
Benchmarks that need root (network namespaces) are skipped with a note otherwise.

    .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "performance.md"
PY = sys.executable


def stamp() -> str:
    return (f"_Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}._\n\n")


def run_json(args: list[str], out: Path, timeout: float) -> dict:  # type: ignore[type-arg]
    subprocess.run([PY, *args, "--out", str(out)], cwd=REPO, check=True, timeout=timeout)
    result: dict = json.loads(out.read_text())  # type: ignore[type-arg]
    return result


def replace_block(name: str, body: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{stamp()}{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer students")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from bench import class_start, static_serving

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        seconds = "3" if args.quick else "8"
        report = run_json(["bench/static_serving.py", "--seconds", seconds],
                          tmpdir / "static.json", 900)
        replace_block("static", static_serving.markdown(report))

        share = subprocess.run([PY, "bench/share_api.py", "--json"], cwd=REPO, check=True,
                               capture_output=True, text=True, timeout=600)
        result = json.loads(share.stdout.strip().splitlines()[-1])
        rows = ["| figure | value |", "|---|---:|"]
        rows += [f"| {k} | {v} |" for k, v in result.items()]
        replace_block("share_api", "\n".join(rows))

        if os.geteuid() == 0:
            subprocess.run([PY, "bench/capture_cold_start.py", "--profile", "science",
                            "--notebook", "Welcome.ipynb"], cwd=REPO, check=True, timeout=900)
            students = "10" if args.quick else "30"
            report = run_json(["bench/class_start.py", "--students", students],
                              tmpdir / "class.json", 3600)
            replace_block("class_start", class_start.markdown(report))
        else:
            replace_block("class_start", "Skipped: needs root (network namespaces, tc).")
    print(f"tables written to {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
