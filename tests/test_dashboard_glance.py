"""The dashboard a teacher reads in five seconds: links for the class, versions as a short
table, features that are off on one line; in Chromium, used with the keyboard only, axe
finds no violation of any impact on a desktop and a tablet (810 px) width.

KIOSK_DOC_IMAGES=1 saves docs/images/dashboard-desktop.png and dashboard-tablet.png."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

from kiosk.app import create_app
from kiosk.dashboard.pages import bundle_view, is_off
from kiosk.status import STATUS_SECTIONS
from tests.browserlib import run_scenario
from tests.conftest import REPO
from tests.fakebundle import make_bundle
from tests.sharing_helpers import make_notebook
from tests.test_dashboard_auth import sign_in

DOC_IMAGES = os.environ.get("KIOSK_DOC_IMAGES") == "1"
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
LESSONS = {"files/units/Rainfall.ipynb": NOTEBOOK, "files/Fractions.ipynb": NOTEBOOK}
VERSIONS = {
    "jupyterlite_core": "0.6.4", "pyodide_kernel": "0.6.1", "pyodide": "0.27.7",
    "python": "3.12.7",
    "packages": {"numpy": "2.0.2", "pandas": "2.2.3", "matplotlib": "3.8.4", "six": "1.16.0",
                 "Pillow": "10.2.0", "scikit-learn": "1.6.1", "micropip": "0.9.0"},
}


def _with_versions(bundle: Path) -> None:
    """Give a fake bundle the version record a real science bundle has."""
    path = bundle / "kiosk-bundle.json"
    manifest = json.loads(path.read_text())
    manifest["versions"] = VERSIONS
    path.write_text(json.dumps(manifest))


def test_versions_are_a_short_table_and_every_package_apart() -> None:
    view = bundle_view(SimpleNamespace(bundle={"name": "b", "profile": "science",
                                               "versions": VERSIONS}))  # type: ignore[arg-type]
    assert view is not None
    assert view["versions"] == [("Python", "3.12.7"), ("Pyodide", "0.27.7"),
                                ("JupyterLite", "0.6.4"), ("Pyodide kernel", "0.6.1"),
                                ("numpy", "2.0.2"), ("pandas", "2.2.3"),
                                ("matplotlib", "3.8.4"), ("scikit-learn", "1.6.1")]
    assert [k for k, _ in view["packages"]] == ["matplotlib", "micropip", "numpy", "pandas",
                                                "Pillow", "scikit-learn", "six"]
    # A bundle without a package record still gets its table.
    plain = bundle_view(SimpleNamespace(bundle={"name": "b", "profile": "core",
                                                "versions": {"jupyterlite_core": "0.6.4"}}))  # type: ignore[arg-type]
    assert plain is not None and plain["versions"] == [("JupyterLite", "0.6.4")]
    assert plain["packages"] == []


def test_is_off() -> None:
    assert is_off({"enabled": False}) and is_off({"up": False, "ssid": "x"})
    assert not is_off({"enabled": True}) and not is_off({"up": True})
    assert not is_off({"trusted": False})  # the clock's verdict is not a feature switch


async def test_page_links_versions_and_off_features(aiohttp_client, make_config):
    """The hotspot's status section is replaced by a stand-in (the real one needs a Wi-Fi
    interface): off, then on."""
    config = make_config()
    _with_versions(make_bundle(config.bundles_path))
    app = create_app(config)
    hotspot = {"up": False, "ssid": "class-wifi", "address": "10.42.0.1"}
    app[STATUS_SECTIONS]["hotspot"] = lambda _app: dict(hotspot)
    client = await aiohttp_client(app)
    await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert '<a href="/join" id="join-link">' in page
    assert '<a href="/join/poster.svg" id="poster-link">' in page
    poster = await client.get("/join/poster.svg")
    assert poster.status == 200 and poster.content_type == "image/svg+xml"
    # No raw dict anywhere: the versions are rows, packages one row each.
    assert '"packages"' not in page and "{&#34;" not in page and "{&quot;" not in page
    assert '<th scope="row">Python</th><td>3.12.7</td>' in page
    assert "All 7 Python packages" in page
    # Sync and the hotspot are off: one line each in "Off on this kiosk", no card.
    off = page.split('id="h-off"')[1].split("</section>")[0]
    assert 'id="sync-state" data-value="off"' in off and 'id="off-hotspot"' in off
    assert 'id="h-sync"' not in page and 'id="h-hotspot"' not in page
    assert off.count("<li") == 2
    # The hotspot comes up: its card is back, the off line gone.
    hotspot["up"] = True
    page = await (await client.get("/admin")).text()
    assert 'id="h-hotspot"' in page and 'id="off-hotspot"' not in page
    assert "class-wifi" in page.split('id="h-hotspot"')[1].split("</section>")[0]


def _call(url: str, body: bytes, headers: dict[str, str]) -> dict:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # loopback only
        result: dict = json.loads(resp.read())
    return result


def test_dashboard_at_a_glance_in_browser(kiosk_process, tmp_path: Path) -> None:
    images = REPO / "docs" / "images" if DOC_IMAGES else tmp_path
    shots = {"desktop": str(images / "dashboard-desktop.png"),
             "tablet": str(images / "dashboard-tablet.png")}
    data = tmp_path / "data"
    _with_versions(make_bundle(data / "bundles", extra=LESSONS))
    kp = kiosk_process()
    base = kp.url()
    api = f"{base}/api/v1"
    names = ["Zoé Martin", "Adam Benali", "Léa Nguyen", "Tom Becker", None]
    codes = {}
    for name in names:
        token = _call(f"{api}/auth/issue", b"", {})["token"]
        notebook = make_notebook(title="Rainfall in Lyon")
        notebook["metadata"]["sharedName"] = "Rainfall.ipynb"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        if name:
            headers["X-Kiosk-Student-Name"] = quote(name)
        saved = _call(f"{api}/notebooks", json.dumps({"notebook": notebook}).encode(), headers)
        codes[name] = saved["notebook"]["readable_id"]
    other = make_notebook(title="Fractions homework")
    other["metadata"]["sharedName"] = "Untitled.ipynb"
    token = _call(f"{api}/auth/issue", b"", {})["token"]
    _call(f"{api}/notebooks", json.dumps({"notebook": other}).encode(),
          {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
           "X-Kiosk-Student-Name": quote("Sami")})
    secret = (data / "admin-secret").read_text().strip()
    Path(shots["desktop"]).parent.mkdir(parents=True, exist_ok=True)

    result = run_scenario("dashboard_glance", {"base": base, "secret": secret,
                                               "lesson": "units/Rainfall.ipynb",
                                               "shots": shots})

    assert result["focusedButton"] == "Use this lesson"
    assert result["lesson"] == "units/Rainfall.ipynb"
    assert "Start coding" in result["status"]
    # Every copy of the lesson, by name (the nameless one last), none of another notebook.
    texts = [c["text"] for c in result["copies"]]
    assert texts[:4] == ["Adam Benali", "Léa Nguyen", "Tom Becker", "Zoé Martin"]
    assert texts[4].startswith("(no name)") and len(texts) == 5
    assert [c["href"] for c in result["copies"]][:1] == [f"/s/{codes['Adam Benali']}"]
    assert result["links"] == {"join": "/join", "poster": "/join/poster.svg"}
    assert "Sync is off" in result["offLine"]
    assert result["versionRows"] == 8 and result["packagesOpen"] is True
    tablet = result["tablet"]
    assert tablet["scrollWidth"] <= tablet["innerWidth"] == 810  # nothing scrolls sideways
    assert tablet["copyWidth"] >= 200 and tablet["copyRows"] <= 2  # side by side: 5 in ≤ 2 rows
    assert result["opened"]["url"].endswith(f"/s/{codes['Adam Benali']}")
    for width, axe in result["axe"].items():
        assert axe["version"] and axe["passes"] > 10, width  # axe really ran
        assert axe["violations"] == [], (width, json.dumps(axe["violations"], indent=1))
    for shot in shots.values():
        assert Path(shot).stat().st_size > 10_000
