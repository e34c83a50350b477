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

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browserlib import run_scenario
from tests.qr_decode import zbar_decode

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
    return bundle


def _single_bundle_dir(tmp_path: Path, bundle: Path) -> Path:
    """A bundles dir whose active bundle is `bundle` (a symlink: bundles are never modified)."""
    root = tmp_path / "bundles"
    root.mkdir()
    (root / bundle.name).symlink_to(bundle.resolve(), target_is_directory=True)
    (root / "current").write_text(bundle.name + "\n", encoding="utf-8")
    return root


def _get_json(url: str, token: str | None = None, data: bytes | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers,
                                 method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _sources(nb: dict[str, Any]) -> list[str]:
    out = []
    for cell in nb["cells"]:
        src = cell["source"]
        out.append("".join(src) if isinstance(src, list) else src)
    return out


@pytest.mark.parametrize("profile", ["science", "core"])
def test_share_flow(profile: str, kiosk_process: Any, tmp_path: Path) -> None:
    bundle = _latest_bundle(profile)
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)))
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
    assert "Kiosk" in result["badge"]

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
    token = _get_json(f"{api}/auth/issue", data=b"{}")["token"]
    stored = _get_json(f"{api}/notebooks/{meta['sharedId']}", token)
    assert any('"A edited"' in s for s in _sources(stored["content"]))
    b_code = b["share"]["code"]
    stored_b = _get_json(f"{api}/notebooks/get-by-readable-id/{b_code}", token) \
        if len(b_code) != 36 else _get_json(f"{api}/notebooks/{b_code}", token)
    assert any("edited by B" in s for s in _sources(stored_b["content"]))

    # Nothing left the kiosk.
    assert result["foreign"] == [], result["foreign"]


@pytest.mark.parametrize("profile", ["science", "core"])
def test_share_errors_in_plain_words(profile: str, kiosk_process: Any, tmp_path: Path) -> None:
    bundle = _latest_bundle(profile)
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)))
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
    assert r["badge404"].startswith("Kiosk")
    assert "connected" not in r["badge404"]
    assert r["insecureNote"] == 1
