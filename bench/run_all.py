"""``make bench``: run every benchmark and write their tables into docs/performance.md.

Each benchmark's table replaces the block between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` in docs/performance.md (the long API fuzz's, ``bench:fuzz``, in
docs/reliability.md), stamped with the machine and the date.
Benchmarks that need root (network namespaces) are skipped with a note otherwise.

    .venv/bin/python bench/run_all.py [--quick] [--soak-minutes 10] [--fuzz-examples 1000]
                                      [--only soak|fuzz]
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
RELIABILITY = REPO / "docs" / "reliability.md"
PY = sys.executable


def stamp() -> str:
    return (f"_Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}._\n\n")


def run_json(args: list[str], out: Path, timeout: float) -> dict:  # type: ignore[type-arg]
    subprocess.run([PY, *args, "--out", str(out)], cwd=REPO, check=True, timeout=timeout)
    result: dict = json.loads(out.read_text())  # type: ignore[type-arg]
    return result


def replace_block(name: str, body: str, doc: Path = DOC) -> None:
    text = doc.read_text() if doc.exists() else "# Performance\n"
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{stamp()}{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    doc.write_text(text)


def fuzz_markdown(report: dict) -> str:  # type: ignore[type-arg]
    """The fuzz test's summary (``KIOSK_FUZZ_REPORT``) as a docs/reliability.md block."""
    rows = ["| operation | examples | 5xx | answers seen |", "|---|---:|---:|---|"]
    for op, row in sorted(report["operations"].items()):
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(row["statuses"].items()))
        rows.append(f"| {op} | {row['examples']} | {row['server_errors']} | {statuses} |")
    return "\n".join([
        f"{report['examples']} generated requests ({report['per_operation']} per operation), "
        f"**{report['server_errors']} answers 5xx**, kiosk alive at the end: "
        f"{report['alive']}; shares stored {report['shares_stored']} = 201s answered "
        f"{report['created']}, all valid notebooks: {report['all_valid']}. "
        f"{report['seconds']} s.",
        "", *rows,
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer students")
    parser.add_argument("--soak-minutes", type=float, default=10.0,
                        help="length of the soak (60 students; --quick: 1 minute)")
    parser.add_argument("--fuzz-examples", type=int, default=1000,
                        help="generated requests per API operation (--quick: 100)")
    parser.add_argument("--only", choices=["soak", "fuzz"],
                        help="run only this benchmark (its block is rewritten, no other)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from bench import class_start, soak, static_serving

    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        if args.only != "fuzz":
            minutes = "1" if args.quick else str(args.soak_minutes)
            # Not check=True: a soak with errors exits 1, and its table must still be written.
            subprocess.run([PY, "bench/soak.py", "--minutes", minutes, "--out",
                            str(tmpdir / "soak.json")], cwd=REPO, check=False,
                           timeout=float(minutes) * 60 + 900)
            report = json.loads((tmpdir / "soak.json").read_text())
            replace_block("soak", soak.markdown(report))
            failed = failed or report["errors"] > 0 or bool(report["problems"])
        if args.only != "soak":
            # The schema-driven fuzz of /api/v1 in its long form (tests/test_fuzz_api.py).
            examples = "100" if args.quick else str(args.fuzz_examples)
            env = {**os.environ, "KIOSK_FUZZ_EXAMPLES": examples,
                   "KIOSK_FUZZ_REPORT": str(tmpdir / "fuzz.json")}
            run = subprocess.run([PY, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                                  "tests/test_fuzz_api.py"], cwd=REPO, env=env, check=False,
                                 timeout=7200)
            fuzz = json.loads((tmpdir / "fuzz.json").read_text())
            replace_block("fuzz", fuzz_markdown(fuzz), RELIABILITY)
            failed = failed or run.returncode != 0
        if args.only:
            print(f"tables written to {DOC} and {RELIABILITY}")
            return 1 if failed else 0
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
            report = run_json(["bench/class_start.py", "--students", students, "--parallel"],
                              tmpdir / "class.json", 3600)
            replace_block("class_start", class_start.markdown(report))
        else:
            replace_block("class_start", "Skipped: needs root (network namespaces, tc).")
    print(f"tables written to {DOC} and {RELIABILITY}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
