"""The helpers of `make run`: step progress, and the notebook extension's build cache.

Real shell scripts on a real git clone of this repository; the extension cache is
given a prepared entry, so no npm or jupyterlab install runs here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(args: list[str], cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, **env})


def test_progress_says_what_and_how_long_and_passes_the_status_through() -> None:
    done = _run(["bash", "scripts/progress.sh", "waiting for paint to dry", "about 3 s",
                 "sleep", "3"], PROGRESS_INTERVAL="1")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "==> waiting for paint to dry (about 3 s)"
    ticks = [line for line in lines if line.startswith("    ... still waiting for paint")]
    assert len(ticks) >= 2, lines  # a silent command still shows life every interval
    assert lines[-1].startswith("    done in ")
    failed = _run(["bash", "scripts/progress.sh", "failing", "instant", "sh", "-c",
                   "echo its own output; exit 3"])
    assert failed.returncode == 3
    assert "its own output" in failed.stdout
    assert "FAILED after" in failed.stderr and "(exit 3): failing" in failed.stderr


def test_a_fresh_clone_takes_the_extension_from_the_cache(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    # The script under test is this checkout's (perhaps not committed yet).
    script = (REPO / "scripts" / "extension-cached.sh").read_text()
    (clone / "scripts" / "extension-cached.sh").write_text(script)
    cache = tmp_path / "cache"
    key = _run(["bash", "scripts/extension-cached.sh", "--print-key"], clone).stdout.strip()
    tree = _run(["git", "rev-parse", "HEAD:extension"], clone).stdout.strip()
    node = _run(["node", "--version"]).stdout.strip()
    assert key == f"{tree}-node{node}"
    entry = cache / key / "labextension"
    (entry / "static").mkdir(parents=True)
    (entry / "package.json").write_text('{"name": "from-the-cache"}')
    (entry / "static" / "remoteEntry.abc.js").write_text("// built before")

    first = _run(["bash", "scripts/extension-cached.sh"], clone,
                 KIOSK_EXTENSION_CACHE=str(cache))
    assert first.returncode == 0, first.stderr
    assert "from the cache" in first.stdout
    out = clone / "extension" / "dist" / "labextension"
    assert (out / "package.json").read_text() == '{"name": "from-the-cache"}'
    assert (out / "static" / "remoteEntry.abc.js").is_file()
    again = _run(["bash", "scripts/extension-cached.sh"], clone,
                 KIOSK_EXTENSION_CACHE=str(cache))
    assert again.returncode == 0 and "up to date" in again.stdout

    # Uncommitted changes under extension/: no key, so never a cached build.
    with (clone / "extension" / "src" / "index.ts").open("a") as fh:
        fh.write("\n// a teacher's local change\n")
    dirty = _run(["bash", "scripts/extension-cached.sh", "--print-key"], clone)
    assert dirty.returncode == 0 and dirty.stdout.strip() == ""
    (clone / "extension" / "src" / "index.ts").unlink()
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "--", "extension"],
                   check=True)
    (clone / "extension" / "src" / "extra.ts").write_text("// new, untracked\n")
    untracked = _run(["bash", "scripts/extension-cached.sh", "--print-key"], clone)
    assert untracked.stdout.strip() == ""
