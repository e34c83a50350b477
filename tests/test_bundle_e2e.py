"""End to end: the built bundles, served by `kiosk serve` on a non-secure origin,
run the welcome notebook in headless Chromium with no internet.

Needs the bundles that `make bundle` builds into bundles/dist; without them these
tests fail (not skip) and say what to run. Each run also writes the cold-start bytes
(raw, gzip, brotli) to tests/browser/out/bundle-<profile>-coldstart.json.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from kiosk.bundle import catalog
from kiosk.bundle.active import set_current
from kiosk.bundle.manifest import Manifest
from tests.browserlib import BROWSER_DIR, run_scenario
from tests.conftest import REPO, KioskProcess

pytestmark = [pytest.mark.bundle, pytest.mark.browser, pytest.mark.slow]

DIST = REPO / "bundles" / "dist"


def newest_bundle(profile: str) -> catalog.BuiltBundle:
    """The newest build of ``profile`` in bundles/dist, or fail saying how to make one."""
    builds = [b for b in catalog.built_bundles(DIST)
              if b.manifest is not None and b.manifest.profile == profile]
    if not builds:
        pytest.fail(f"no built '{profile}' bundle in {DIST}: run 'make bundle' (or "
                    f"'python -m kiosk bundle build --profile {profile} "
                    f"--bundles-dir bundles/dist')")
    return builds[-1]


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a bundle by hard links (instant, no extra space); plain copy across devices."""
    try:
        shutil.copytree(src, dst, copy_function=os.link)
    except OSError:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)


@pytest.fixture
def serve_bundle(kiosk_process: Callable[..., KioskProcess],
                 tmp_path: Path) -> Iterator[Callable[[str], tuple[KioskProcess, Manifest]]]:
    """Start a kiosk whose only (and active) bundle is the newest build of a profile."""
    stages: list[Path] = []

    def start(profile: str) -> tuple[KioskProcess, Manifest]:
        bundle = newest_bundle(profile)
        assert bundle.manifest is not None, bundle.error
        # A bundles dir of its own, so the test does not depend on (or change) which
        # bundle bundles/dist has active. Same file system as the bundle: hard links.
        stage = DIST / f".e2e-{os.getpid()}-{profile}"
        shutil.rmtree(stage, ignore_errors=True)
        stages.append(stage)
        _link_tree(bundle.path, stage / bundle.name)
        set_current(stage, bundle.name)
        kp = kiosk_process("--bundles-dir", str(stage), "--host-aliases", "kiosk.test")
        return kp, bundle.manifest

    yield start
    for stage in stages:
        shutil.rmtree(stage, ignore_errors=True)


def cold_start_bytes(transfers: list[dict[str, Any]], manifest: Manifest) -> dict[str, Any]:
    """What the browser fetched, and what it would weigh raw, with gzip and with brotli."""
    totals = {"requests": 0, "raw": 0, "gzip": 0, "br": 0, "wire": 0, "not_in_bundle": 0}
    for t in transfers:
        totals["requests"] += 1
        totals["wire"] += max(0, t.get("bodyBytes", 0))
        rel = unquote(urlsplit(t["url"]).path).lstrip("/")
        rec = manifest.files.get(rel)
        if rec is None:
            totals["not_in_bundle"] += 1
            size = max(0, t.get("bodyBytes", 0))
            for key in ("raw", "gzip", "br"):
                totals[key] += size
            continue
        totals["raw"] += rec.size
        totals["gzip"] += rec.compressed["gzip"].size if "gzip" in rec.compressed else rec.size
        totals["br"] += rec.compressed["br"].size if "br" in rec.compressed else rec.size
    totals["encodings_used"] = sorted({t.get("encoding") or "identity" for t in transfers})
    return totals


def run_welcome(kp: KioskProcess, profile: str, manifest: Manifest,
                path: str = "Welcome.ipynb") -> dict[str, Any]:
    result = run_scenario("bundle_notebook", {
        "url": f"http://kiosk.test:{kp.port}", "path": path, "timeoutMs": 240000,
    }, timeout=420)
    assert result["secure"] is False, "the page must run on a non-secure origin"
    # Zero requests anywhere but the kiosk, from the page, its workers or a service worker.
    assert result["foreign"] == [], result["foreign"]
    assert [f for f in result["failures"] if "kiosk.test" not in f["url"]] == []
    assert result["transfers"], "the browser logged no requests"
    assert all(t.get("status") in (200, 204, 304) for t in result["transfers"]
               if "error" not in t), [t for t in result["transfers"] if t.get("status") != 200]
    errors = [o for c in result["cells"] for o in c["outputs"] if o["type"] == "error"]
    assert errors == [], errors
    if path != "Welcome.ipynb":
        return result  # the cold-start report is the English lesson's
    report = {"profile": profile, "bundle": manifest.built_at,
              "kernel_ready_ms": result["kernelReadyMs"], "all_cells_ms": result["doneMs"],
              **cold_start_bytes(result["transfers"], manifest)}
    out = BROWSER_DIR / "out"
    out.mkdir(exist_ok=True)
    (out / f"bundle-{profile}-coldstart.json").write_text(
        json.dumps({**report, "transfers": result["transfers"]}, indent=1), encoding="utf-8")
    print(json.dumps(report))
    return result


def cell_text(result: dict[str, Any]) -> str:
    return "\n".join(o["text"] for c in result["cells"] for o in c["outputs"])


def test_science_bundle_runs_numpy_pandas_matplotlib_offline(serve_bundle) -> None:
    kp, manifest = serve_bundle("science")
    result = run_welcome(kp, "science", manifest)
    text = cell_text(result)
    assert "numpy 2.0.2 | pandas 2.2.3" in text
    assert "days: 20" in text
    assert "mean temperature: 19.34" in text
    assert "mean ice creams sold: 423.15" in text
    assert "correlation: 0.98" in text
    assert "each extra degree sells about 31.2 more ice creams" in text
    plots = [o for c in result["cells"] for o in c["outputs"] if "image/png" in o["mimes"]]
    assert len(plots) == 1
    assert [i for i in result["images"] if i["src"].startswith("data:image/png")
            and i["width"] > 200 and i["height"] > 150], result["images"]


def test_core_bundle_runs_plain_python_offline(serve_bundle) -> None:
    kp, manifest = serve_bundle("core")
    result = run_welcome(kp, "core", manifest)
    text = cell_text(result)
    assert "Python 3.14" in text
    assert "days: 20" in text
    assert "mean temperature: 19.34" in text
    assert "correlation: 0.98" in text
    assert "best day: 665 ice creams" in text


def _translations(profile: str) -> dict[str, str]:
    recipe = REPO / "bundles" / profile / "jupyter-lite.json"
    data = json.loads(recipe.read_text(encoding="utf-8"))["jupyter-config-data"]
    named: dict[str, str] = data["kioskLessonTranslations"]
    return named


@pytest.mark.parametrize(("profile", "expected"), [
    ("science", ["19.34", "423.15", "0.98", "31.2"]),
    ("core", ["19.34", "423.15", "0.98", "665"]),
])
def test_translated_welcomes_run_offline(serve_bundle, profile: str,
                                         expected: list[str]) -> None:
    """Each language's Welcome runs every cell without an error and finds the same
    numbers as the English one (issue 23); one kiosk, a fresh browser per lesson."""
    kp, manifest = serve_bundle(profile)
    for code, path in _translations(profile).items():
        result = run_welcome(kp, profile, manifest, path)
        text = cell_text(result)
        for number in expected:
            assert number in text, (code, number, text)
        assert "mean temperature" not in text, (code, text)  # its own words, not English
        if profile == "science":
            plots = [o for c in result["cells"] for o in c["outputs"]
                     if "image/png" in o["mimes"]]
            assert len(plots) == 1, code


@pytest.mark.parametrize("profile", ["science", "core"])
def test_built_bundle_passes_verify_against_the_npm_lock(profile: str) -> None:
    from kiosk.bundle.profiles import default_cache_dir
    from kiosk.bundle.verify import verify_full

    bundle = newest_bundle(profile)
    assert bundle.manifest is not None
    version = bundle.manifest.versions["pyodide"]
    lock = default_cache_dir() / "npm" / f"pyodide-{version}" / "package" / "pyodide-lock.json"
    assert lock.is_file(), "the build keeps the official lock in its cache"
    assert verify_full(bundle.path, official_lock=lock) == []
    versions = bundle.manifest.versions
    assert {"jupyterlite_core", "pyodide_kernel", "pyodide", "python", "packages"} <= set(versions)
    assert "comm" in versions["packages"] and "pyodide-http" in versions["packages"]
    if profile == "science":
        assert {"numpy", "pandas", "matplotlib", "scipy", "scikit-learn"} <= set(
            versions["packages"])
