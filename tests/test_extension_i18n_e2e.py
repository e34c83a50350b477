"""The Share dialog in the students' language (issue 23), and a share the cloud service
refused, said so in that language (issue 24), in headless Chromium.

A real `kiosk serve` (the core bundle built with this checkout's extension and catalogs)
syncs to the JE-faithful stand-in (tests/je_standin.py, on loopback, 20 kB limit). A browser
with a French (then Arabic) locale shares a small notebook: the dialog, the badge and the
Share button are in that language (Arabic right to left). It then shares a notebook over
the stand-in's limit: the stand-in answers 413, the kiosk parks the share as refused, and
the dialog says why in the student's language instead of promising a take-home link.
A language the teacher pinned (``--language de``) wins over the browser's, for JupyterLab
and the dialog alike.
KIOSK_DOC_IMAGES=1 saves docs/images/share-dialog-fr.png and share-dialog-ar.png.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from kiosk.bundle.translations import catalog_data
from kiosk.sync.upstream import REFUSALS
from tests.browserlib import run_scenario
from tests.je_standin import JEStandIn
from tests.test_extension_e2e import IMAGES, _latest_bundle, _single_bundle_dir

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]

DOC_IMAGES = os.environ.get("KIOSK_DOC_IMAGES") == "1"
LIMIT = 20_000


def _words(code: str, message: str) -> str:
    return str(catalog_data(code)[message][0])


@pytest.mark.parametrize(("profile", "locale", "code", "pinned"), [
    ("core", "fr-FR", "fr", False), ("core", "ar", "ar", False),
    ("science", "fr-FR", "fr", False),  # JupyterLab 4.4 (jupyterlite-core 0.6)
    ("core", "fr-FR", "de", True),  # the teacher pinned German: it wins over the browser
])
async def test_share_dialog_and_refusal_in_the_browsers_language(
        kiosk_process: Any, tmp_path: Path, profile: str, locale: str, code: str,
        pinned: bool) -> None:
    bundle = _latest_bundle(profile)
    je = JEStandIn(now=time.time(), max_bytes=LIMIT)
    server = TestServer(je.app(), host="127.0.0.1")
    await server.start_server()
    out = IMAGES if DOC_IMAGES and profile == "core" and not pinned else tmp_path / "shots"
    try:
        kp = await asyncio.to_thread(
            kiosk_process, "--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)),
            "--host-aliases", "kiosk.test",
            "--upstream-url", f"http://127.0.0.1:{server.port}/api/v1", "--upstream-kind", "je",
            "--upstream-site-url", "https://site.example/",
            "--sync-enabled", "--sync-interval", "0.5", "--sync-backoff-base", "0.2",
            "--sync-backoff-max", "1", *(["--language", code] if pinned else []))
        result = await asyncio.to_thread(run_scenario, "share_language", {
            "origin": f"http://kiosk.test:{kp.port}", "locale": locale, "outDir": str(out),
            "shotName": f"share-dialog-{code}", "bigSource": "#" * (LIMIT + 10_000)},
            timeout=400)
    finally:
        await server.close()

    first = result["first"]
    # The dialog speaks the browser's language, as JupyterLab's menus do.
    assert first["title"] == _words(code, "Shared!"), first
    assert first["close"] == _words(code, "Close")
    assert _words(code, "Copy link") in first["texts"]
    assert any(t.startswith(_words(code, "Code")) for t in first["texts"]), first["texts"]
    assert "Copy link" not in first["texts"] and first["title"] != "Shared!"
    assert result["shareButton"] == _words(code, "Share")
    assert _words(code, "connected") in result["badge"] and "connected" not in result["badge"]
    assert _words(code, "Open a code") in result["badge"]  # the badge's menu
    # JupyterLab's menus too (the Arabic pack leaves them in English).
    assert result["menus"][0] == {"fr": "Fichier", "de": "Datei", "ar": "File"}[code]
    assert first["dir"] == ("rtl" if code == "ar" else "ltr")
    # The small notebook reached the stand-in; its take-home link is in the dialog.
    assert first["state"] == "synced", first
    assert _words(code, "To take home") in first["texts"]

    # Over the cloud service's limit: refused (413), and the dialog says why and what to do.
    refused = result["refused"]
    assert refused["state"] == "refused", refused
    reason = _words(code, REFUSALS[413])
    assert refused["text"] == _words(code, "No take-home link: %1.").replace("%1", reason)
    assert refused["pendingShown"] == 0  # no promise of a link that will not come
    assert refused["dir"] == first["dir"]
    assert [status for method, path, status in je.calls if status == 413], je.calls
    for shot in result["shots"].values():
        assert Path(shot).stat().st_size > 10_000, shot
    assert result["foreign"] == [], result["foreign"]
