"""Run a browser scenario (a Node script under tests/browser/) and return its result.

Scenarios drive Debian's Chromium with playwright-core (see harness.mjs). They take
their parameters as one JSON argument and print a JSON object as the last line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

BROWSER_DIR = Path(__file__).parent / "browser"
CHROMIUM = Path("/usr/bin/chromium")


def require_browser() -> None:
    """Fail, saying what to install, when this machine cannot run the browser tests."""
    missing = [what for what, ok in [
        ("/usr/bin/chromium", CHROMIUM.exists()),
        ("node", shutil.which("node") is not None),
        ("tests/browser/node_modules", (BROWSER_DIR / "node_modules" / "playwright-core").is_dir()),
    ] if not ok]
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)}: run 'make test-deps'")


def run_scenario(name: str, params: dict[str, Any], *, timeout: float = 180) -> dict[str, Any]:
    """Run tests/browser/<name>.mjs with params; fail the test with its output on error."""
    require_browser()
    proc = subprocess.run(
        ["node", str(BROWSER_DIR / f"{name}.mjs"), json.dumps(params)],
        capture_output=True, text=True, timeout=timeout, cwd=BROWSER_DIR, check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(f"scenario {name} printed no result (exit {proc.returncode}):\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    if proc.returncode != 0 or "error" in result:
        pytest.fail(f"scenario {name} failed: {result.get('error')}\n{proc.stderr[-4000:]}")
    return result
