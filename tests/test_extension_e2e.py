"""Issue 5 end to end: Share from the notebook, through the kiosk extension, in both profiles.

Headless Chromium (tests/browser/share_flow.mjs) against a real `kiosk serve` reached as
http://kiosk.test:<port> (not a secure context): student A writes and runs two cells and
presses Share; the dialog's QR code, decoded from a screenshot with zbarimg, is the link;
student B (a fresh browser) opens the link and sees the same cells and outputs, view-only,
with no kernel; B makes a copy, edits and shares it (another link); A's later edit, once
saved, is what the kiosk returns for A's id. No request leaves the kiosk.

The bundles come from `make bundles-for-tests` (bundles/dist), or KIOSK_E2E_BUNDLES.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.browserlib import run_scenario
from tests.qr_decode import zbar_decode
from tests.sharing_helpers import get_json, post_json
from tests.sync_helpers import FaultyProxy

REPO = Path(__file__).resolve().parent.parent
EXT_NAME = "@kiosk/share-extension"
IMAGES = REPO / "docs" / "images"

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]


def _bundles_dir() -> Path:
    return Path(os.environ.get("KIOSK_E2E_BUNDLES", REPO / "bundles" / "dist"))


def _latest_bundle(profile: str) -> Path:
    root = _bundles_dir()
    candidates = sorted(p for p in root.glob(f"{profile}-*") if p.is_dir()) if root.is_dir() else []
    if not candidates:
        pytest.fail(f"no built '{profile}' bundle in {root}: run 'make bundles-for-tests'")
    bundle = candidates[-1]
    if not (bundle / "extensions" / EXT_NAME / "package.json").is_file():
        pytest.fail(f"{bundle} was built without the kiosk extension "
                    "(run extension/build.sh before building bundles)")
    # `make bundles-for-tests` keeps an existing build (--if-missing): after a change to
    # extension/src, say so plainly rather than fail on a missing element in the page.
    built = _extension_entry(REPO / "extension" / "dist" / "labextension")
    if built is not None and _extension_entry(bundle / "extensions" / EXT_NAME) != built:
        pytest.fail(f"{bundle.name} holds an older build of the kiosk extension than "
                    f"extension/dist: rebuild it (kiosk bundle build --profile {profile})")
    return bundle


def _extension_entry(folder: Path) -> str | None:
    """The webpack entry file a labextension build loads (named by its content hash)."""
    try:
        meta = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    entry = meta.get("jupyterlab", {}).get("_build", {}).get("load")
    return entry if isinstance(entry, str) else None


def _single_bundle_dir(tmp_path: Path, bundle: Path) -> Path:
    """A bundles dir whose active bundle is `bundle` (a symlink: bundles are never modified)."""
    root = tmp_path / "bundles"
    root.mkdir()
    (root / bundle.name).symlink_to(bundle.resolve(), target_is_directory=True)
    (root / "current").write_text(bundle.name + "\n", encoding="utf-8")
    return root


def _sources(nb: dict[str, Any]) -> list[str]:
    out = []
    for cell in nb["cells"]:
        src = cell["source"]
        out.append("".join(src) if isinstance(src, list) else src)
    return out


@pytest.mark.parametrize("profile", ["science", "core"])
def test_share_flow(profile: str, kiosk_process: Any, tmp_path: Path) -> None:
    bundle = _latest_bundle(profile)
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)),
                        "--host-aliases", "kiosk.test")
    origin = f"http://kiosk.test:{kp.port}"
    out = tmp_path / "shots"
    # Tests leave docs/ alone; KIOSK_DOC_IMAGES=1 refreshes its screenshots.
    save_images = profile == "science" and os.environ.get("KIOSK_DOC_IMAGES") == "1"
    if save_images:
        IMAGES.mkdir(parents=True, exist_ok=True)
    result = run_scenario("share_flow", {
        "origin": origin, "outDir": str(out),
        "imagesDir": str(IMAGES) if save_images else None,
    }, timeout=600)

    assert result["secure"] is False  # plain HTTP on a LAN name: not a secure context
    # The kiosk's name once ("testkiosk", not "Kiosk testkiosk"), and its state.
    assert "testkiosk" in result["badge"] and "Kiosk testkiosk" not in result["badge"]
    assert "connected" in result["badge"]

    # A: two cells ran; Share gave a link in the JE format and a code.
    a = result["a"]
    assert any("first 42" in o for o in a["outputs"])
    assert any("[42, 43, 44]" in o for o in a["outputs"])
    share_a = a["share"]
    meta = a["meta"]
    code = meta.get("readableId") or meta["sharedId"]
    assert share_a["code"] == code
    assert share_a["link"] == f"{origin}/lab/index.html?notebook={code}"
    assert {"sharedId", "sharedName", "lastShared"} <= meta.keys()
    assert "isSharedNotebook" not in meta
    # Copy works on plain HTTP through the fallback, and says so.
    assert share_a["copyOutcome"] in ("execCommand", "manual")
    assert share_a["copyStatus"]

    # The dialog's QR code, seen as a phone would see it, is the link.
    assert zbar_decode(Path(share_a["shot"])) == [share_a["link"]]
    # Sync is off on this kiosk: no take-home part, in any of the dialogs.
    for dialog in (share_a, result["b"]["viewShare"], result["b"]["share"]):
        assert dialog["takeHome"] == {"state": "off", "visible": False}

    # B: the same cells and outputs, read-only, no kernel.
    b = result["b"]
    assert b["cells"] == a["cells"]
    assert any("first 42" in o for o in b["outputs"])
    assert any("[42, 43, 44]" in o for o in b["outputs"])
    assert b["kernels"] == []
    assert b["view"]["hasSession"] is False
    assert b["kernelRequests"] == [], b["kernelRequests"]
    assert b["workers"] == [], b["workers"]
    assert b["typingChanged"] is False
    assert b["view"]["readOnlyModel"] is True
    assert b["view"]["meta"]["isSharedNotebook"] is True
    assert b["view"]["meta"]["sharedId"] == meta["sharedId"]
    # Share on the view-only notebook shows its existing link.
    assert b["viewShare"]["link"] == share_a["link"]
    # B's copy is shared anew: another link.
    assert b["copyPath"].startswith("Copy of")
    assert b["share"]["link"] != share_a["link"]
    assert zbar_decode(Path(b["share"]["shot"])) == [b["share"]["link"]]

    # "My notebooks" in A lists A's share with its code.
    assert code in a["myNotebooks"]

    # The kiosk returns A's later edit for A's id, and B's copy under B's id.
    api = f"http://127.0.0.1:{kp.port}/api/v1"
    token = post_json(f"{api}/auth/issue", {})["token"]
    stored = get_json(f"{api}/notebooks/{meta['sharedId']}", token)
    assert any('"A edited"' in s for s in _sources(stored["content"]))
    b_code = b["share"]["code"]
    stored_b = get_json(f"{api}/notebooks/get-by-readable-id/{b_code}", token) \
        if len(b_code) != 36 else get_json(f"{api}/notebooks/{b_code}", token)
    assert any("edited by B" in s for s in _sources(stored_b["content"]))

    # Nothing left the kiosk.
    assert result["foreign"] == [], result["foreign"]


@pytest.mark.parametrize("profile", ["science", "core"])
def test_share_errors_in_plain_words(profile: str, kiosk_process: Any, tmp_path: Path) -> None:
    bundle = _latest_bundle(profile)
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)),
                        "--host-aliases", "kiosk.test")
    r = run_scenario("share_errors", {"origin": f"http://kiosk.test:{kp.port}",
                                      "outDir": str(tmp_path / "shots")}, timeout=300)
    assert "too large" in r["tooLarge"]["text"]
    assert "cannot be reached" in r["unreachable"]["text"]
    assert "try again" in r["serverError"]["text"].lower()
    assert r["first"]["link"] and r["firstId"]
    # 401: a new token and one retry. A new token is a new session, which does not own
    # the notebook (the kiosk answers the retried PUT with 403), so it is shared anew and
    # the student is told the link changed: the share still succeeds.
    assert r["put401"] == 1
    assert r["after401"]["link"]
    if r["after401"]["link"] != r["first"]["link"]:
        assert "new link" in (r["after401"]["note"] or "")
    # 403 on PUT: shared anew under a new id, and the student is told the link changed.
    assert r["secondId"] != r["firstId"]
    assert r["forbidden"]["link"] != r["first"]["link"]
    assert "new link" in (r["forbidden"]["note"] or "")
    assert "no shared notebook with that code" in r["notFound"]["text"]
    # Damaged or oversized shares: one sentence, nothing stored or opened, no save prompt.
    for case, words in (("damagedCut", "damaged"), ("damagedCells", "damaged"),
                        ("oversized", "too big to open")):
        got = r[case]
        assert words in got["text"], (case, got["text"])
        assert "JSON" not in got["text"] and "Unexpected" not in got["text"], got["text"]
        assert got["opened"] == "failed", case
        assert got["dialogsAfter"] == 0 and got["dirty"] == 0, (case, got)
        assert got["files"] == [], (case, got["files"])
    assert r["badge404"].startswith("Kiosk")
    assert "connected" not in r["badge404"]
    # The relay makes files and input() work on plain HTTP: no warning; without it, one.
    assert r["insecureNote"] == 0
    assert r["insecureNoteNoRelay"] == 1
    assert "input()" in r["insecureText"]


async def test_share_dialog_take_home_link(kiosk_process: Any, tmp_path: Path) -> None:
    """Issue 7: a classroom kiosk syncing to a hub kiosk (both real, on loopback).

    The hub is away when the student shares: the dialog says the take-home link will
    come. The hub comes back while the dialog is open: the link to the hub's copy and
    its QR code appear; the QR, decoded with zbarimg, is that link, and the link names
    the notebook the hub holds, with the student's cell in it.
    """
    bundle = _latest_bundle("core")
    hub = await asyncio.to_thread(kiosk_process, "--data-dir", str(tmp_path / "hub"),
                                  "--name", "hub")
    proxy = FaultyProxy(hub.url(), rate=0.0)  # no faults: only "away", then back
    await proxy.start()
    proxy.away = True

    async def hub_up(request: web.Request) -> web.Response:
        proxy.away = False
        return web.Response(status=204)

    control = web.Application()
    control.router.add_post("/hub-up", hub_up)
    runner = web.AppRunner(control)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control_port = runner.addresses[0][1]
    upstream = f"http://127.0.0.1:{proxy.port}"
    try:
        room = await asyncio.to_thread(
            kiosk_process, "--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)),
            "--data-dir", str(tmp_path / "room"), "--name", "room", "--host-aliases", "kiosk.test",
            "--upstream-url", f"{upstream}/api/v1", "--sync-enabled", "--sync-interval", "0.5",
            "--sync-backoff-base", "0.2", "--sync-backoff-max", "1")
        result = await asyncio.to_thread(run_scenario, "share_take_home", {
            "origin": f"http://kiosk.test:{room.port}",
            "hubUpUrl": f"http://127.0.0.1:{control_port}/hub-up",
            "outDir": str(tmp_path / "shots")}, timeout=400)

        # While the hub was away: the promise, and no take-home QR code yet.
        pending = result["pending"]
        assert pending["state"] == "pending", pending
        assert pending["text"] == "A take-home link will be sent when the kiosk is online."
        assert pending["upstreamQr"] == 0
        # The classroom link and its QR code are there regardless.
        assert zbar_decode(Path(pending["shot"])) == [
            f"http://kiosk.test:{room.port}/lab/index.html?notebook={result['code']}"]

        # Once synced: the link is the hub's copy, as the kiosk's endpoint gives it.
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{room.url()}/api/kiosk/shares/{result['sharedId']}"
                                "/upstream") as r:
                info = await r.json()
            secret = (tmp_path / "hub" / "admin-secret").read_text().strip()
            async with http.get(f"{hub.url()}/api/admin/shares",
                                headers={"Authorization": f"Bearer {secret}"}) as r:
                on_hub = (await r.json())["shares"]
            async with http.post(f"{hub.url()}/api/v1/auth/issue") as r:
                token = (await r.json())["token"]
            (hub_share,) = on_hub
            async with http.get(
                    f"{hub.url()}/api/v1/notebooks/get-by-readable-id/"
                    f"{hub_share['readable_id']}",
                    headers={"Authorization": f"Bearer {token}"}) as r:
                hub_notebook = await r.json()
        take_home = f"{upstream}/lab/index.html?notebook={hub_share['readable_id']}"
        assert info["sync_enabled"] is True and info["synced"] is True
        assert info["url"] == take_home
        first = result["first"]
        assert first["link"] == take_home
        assert first["localLink"] != take_home
        assert "at home" in first["text"]
        # The QR code of the take-home part, seen as a phone would see it, is the link;
        # the whole dialog carries both codes, with no scrolling needed.
        assert first["scrolled"] is False
        assert zbar_decode(Path(first["qrShot"])) == [take_home]
        assert sorted(zbar_decode(Path(first["dialogShot"]))) == sorted(
            [take_home, first["localLink"]])
        assert "take me home" in json.dumps(hub_notebook["content"]["cells"])
        assert result["appearedAfterS"] < 30
        # Opened again later, the dialog shows the same take-home link straight away.
        assert result["again"]["link"] == take_home
        assert zbar_decode(Path(result["again"]["qrShot"])) == [take_home]
        # The browser only ever talked to the classroom kiosk.
        assert result["foreign"] == [], result["foreign"]
    finally:
        await runner.cleanup()
        await proxy.close()
