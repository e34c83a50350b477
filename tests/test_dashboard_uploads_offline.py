"""An uploaded dataset stays readable long after its upload, with no internet at all.

The download cache re-checks a copy older than ``fresh_seconds`` (5 minutes) against
the internet; an upload's address (``https://kiosk.invalid/…``) never resolves, so the
kiosk must fall back to its copy. Run in a fresh network namespace (``unshare --net``:
only a loopback, nothing to reach), so no DNS query or packet can leave this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from kiosk.dashboard.uploads import check_dataset, dataset_url
from kiosk.downloads.cache import DownloadCache
from kiosk.downloads.fetcher import Downloader

async def main():
    cache = DownloadCache(Path(sys.argv[1]))
    url = dataset_url("Pluie mai.csv")
    data = b"jour,pluie_mm\\nlundi,3\\n"
    cache.store_bytes(url, data, check_dataset("x.csv", data))
    downloader = Downloader(cache, max_bytes=1 << 20, allow_private=False,
                            fresh_seconds=0, request_seconds=20)
    try:
        entry, how = await downloader.fetch(url)
    finally:
        await downloader.close()
    print(json.dumps([url, how, entry.content_type, entry.body.read_bytes() == data]))

asyncio.run(main())
"""


def test_an_upload_is_served_from_the_kiosk_when_its_copy_is_old(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (util-linux) for a private network namespace")
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", SCRIPT, str(tmp_path / "downloads")],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    url, how, content_type, same = json.loads(done.stdout.splitlines()[-1])
    assert url == "https://kiosk.invalid/datasets/Pluie-mai.csv"
    # "cached", not "stale": an upload's `.invalid` address is never tried at all.
    assert how == "cached", "an upload's copy must be served from the kiosk, never looked up"
    assert content_type == "text/csv; charset=utf-8"
    assert same is True
