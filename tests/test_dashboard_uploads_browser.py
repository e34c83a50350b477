"""A dataset uploaded on the dashboard is read by pandas in a student's notebook.

A real ``kiosk serve`` process, the teacher's upload as the browser form sends it
(multipart, session cookie, CSRF token), then Chromium running the science bundle's
Python: ``pd.read_csv("https://kiosk.invalid/datasets/…")`` goes through the kiosk's
``/api/fetch`` and gets the uploaded file; the browser requests nothing but the kiosk.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from kiosk.bundle.active import set_current
from kiosk.secrets import admin_secret_path
from tests.browserlib import run_scenario
from tests.test_bundle_e2e import newest_bundle
from tests.test_dashboard_auth import CSRF_RE

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]

RAIN = b"jour,pluie_mm\nlundi,3\nmardi,0\nmercredi,12\n"


async def upload(base: str, data_dir: Path, name: str, data: bytes) -> None:
    """Sign in and upload ``data`` as the dashboard's form does."""
    secret = admin_secret_path(data_dir).read_text().strip()
    jar = aiohttp.CookieJar(unsafe=True)  # the kiosk is reached by IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(f"{base}/admin/login", data={"secret": secret},
                             allow_redirects=False) as resp:
            assert resp.status == 303, await resp.text()
        async with http.get(f"{base}/admin/datasets") as resp:
            match = CSRF_RE.search(await resp.text())
            assert match
        form = aiohttp.FormData()
        form.add_field("csrf", match.group(1))
        form.add_field("file", data, filename=name, content_type="text/csv")
        async with http.post(f"{base}/admin/datasets/upload", data=form,
                             allow_redirects=False) as resp:
            assert resp.status == 303, await resp.text()


def test_pandas_reads_an_uploaded_dataset(kiosk_process, tmp_path):
    bundle = newest_bundle("science")
    private = tmp_path / "bundles"
    private.mkdir()
    (private / bundle.name).symlink_to(bundle.path)
    set_current(private, bundle.name)
    # kiosk.test: the name the browser uses for it (the API answers known names only).
    kiosk = kiosk_process("--bundles-dir", str(private), "--host-aliases", "kiosk.test")
    asyncio.run(upload(kiosk.url(), tmp_path / "data", "Pluie mai.csv", RAIN))
    cell = ("import pandas as pd\n"
            "df = pd.read_csv('https://kiosk.invalid/datasets/Pluie-mai.csv')\n"
            "print('rain', df.shape, int(df['pluie_mm'].sum()), list(df.columns))")
    result = run_scenario("relay_notebook", {
        "url": f"http://kiosk.test:{kiosk.port}", "cells": [cell], "answers": []},
        timeout=400)
    assert "rain (3, 2) 15 ['jour', 'pluie_mm']" in result["outputs"][0], result["outputs"]
    assert result["foreign"] == [], result["foreign"]
