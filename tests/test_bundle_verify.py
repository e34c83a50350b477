"""`bundle verify`: one changed byte, a missing file, a non-official Pyodide package,
an outside address: each is found and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.bundle.manifest import read_manifest, verify_bundle
from kiosk.bundle.verify import official_lock_problems, offline_problems, verify_full
from tests.bundle_fakes import (
    PACKAGES,
    make_bundle,
    official_lock,
    official_lock_path,
    remanifest,
    sha,
)

NUMPY = "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "fake-20261123T000000")


def paths(problems: list) -> list[str]:
    return [p.path for p in problems]


def test_verify_good_bundle_has_no_problems(bundle: Path) -> None:
    assert verify_full(bundle) == []


def test_verify_rejects_one_changed_byte(bundle: Path) -> None:
    target = bundle / "build" / "main.js"
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    problems = verify_full(bundle)
    assert paths(problems) == ["build/main.js"]
    assert "sha256" in problems[0].what


def test_verify_rejects_a_changed_compressed_sibling(bundle: Path) -> None:
    sibling = bundle / "build" / "main.js.gz"
    data = bytearray(sibling.read_bytes())
    data[len(data) // 2] ^= 0xFF
    sibling.write_bytes(bytes(data))
    assert paths(verify_full(bundle)) == ["build/main.js.gz"]


def test_verify_rejects_a_missing_file(bundle: Path) -> None:
    (bundle / "lab" / "index.html").unlink()
    (bundle / "lab" / "index.html.br").unlink()
    (bundle / "lab" / "index.html.gz").unlink()
    problems = verify_full(bundle)
    assert "lab/index.html" in paths(problems)
    assert any(p.what == "missing" for p in problems)


def test_verify_rejects_an_extra_file(bundle: Path) -> None:
    (bundle / "build" / "evil.js").write_text("fetch('x')", encoding="utf-8")
    assert paths(verify_full(bundle)) == ["build/evil.js"]


def test_verify_rejects_a_pyodide_package_that_is_not_the_official_build(
        bundle: Path) -> None:
    # A consistent bundle (manifest and shipped lock agree with the file) whose numpy
    # is not the official build: only the official hashes can tell.
    pyo = bundle / "static" / "pyodide"
    forged = b"not the official numpy" * 50
    (pyo / NUMPY).write_bytes(forged)
    lock = json.loads((pyo / "pyodide-lock.json").read_text(encoding="utf-8"))
    lock["packages"]["numpy"]["sha256"] = sha(forged)
    (pyo / "pyodide-lock.json").write_text(json.dumps(lock), encoding="utf-8")
    remanifest(bundle)
    problems = verify_bundle(bundle)  # what `kiosk serve` runs
    assert paths(problems) == [f"static/pyodide/{NUMPY}"]
    assert "official" in problems[0].what


def test_verify_rejects_a_lock_entry_without_its_file(bundle: Path) -> None:
    (bundle / "static" / "pyodide" / NUMPY).unlink()
    remanifest(bundle)
    problems = verify_full(bundle)
    assert paths(problems) == [f"static/pyodide/{NUMPY}"]
    assert "missing" in problems[0].what


def test_official_lock_check_against_a_copy_of_the_lock(bundle: Path, tmp_path: Path) -> None:
    lock_path = tmp_path / "pyodide-lock.json"
    lock = official_lock()
    lock_path.write_text(json.dumps(lock, indent=1), encoding="utf-8")
    problems = official_lock_problems(read_manifest(bundle), lock_path)
    # another copy (other bytes) of the same lock: flagged, though every package matches
    assert [p.path for p in problems] == [str(lock_path)]
    assert official_lock_problems(read_manifest(bundle), official_lock_path(bundle)) == []
    lock["packages"]["six"]["sha256"] = "f" * 64
    lock_path.write_text(json.dumps(lock), encoding="utf-8")
    problems = verify_full(bundle, official_lock=lock_path)
    assert "static/pyodide/six-1.16.0-py2.py3-none-any.whl" in paths(problems)


def test_verify_rejects_an_outside_script(bundle: Path) -> None:
    page = bundle / "lab" / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "../build/main.js", "https://cdn.jsdelivr.net/npm/x/main.js"), encoding="utf-8")
    for suffix in (".br", ".gz"):
        (bundle / f"lab/index.html{suffix}").unlink()
    remanifest(bundle)
    problems = verify_full(bundle)
    assert set(paths(problems)) == {"lab/index.html"}


def test_verify_rejects_a_cdn_pyodide_url(bundle: Path) -> None:
    config = bundle / "jupyter-lite.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    settings = data["jupyter-config-data"]["litePluginSettings"][
        "@jupyterlite/pyodide-kernel-extension:kernel"]
    settings["pyodideUrl"] = "https://cdn.jsdelivr.net/pyodide/v0.27.7/full/pyodide.js"
    settings["disablePyPIFallback"] = False
    config.write_text(json.dumps(data), encoding="utf-8")
    remanifest(bundle)
    whats = " | ".join(p.what for p in verify_full(bundle))
    assert "outside address" in whats
    assert "pyodideUrl" in whats
    assert "disablePyPIFallback" in whats


def test_offline_check_ignores_links_but_not_fetch_hosts(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.js").write_text('const ns="http://www.w3.org/2000/svg";'
                               'const doc="https://jupyterlab.readthedocs.io/";',
                               encoding="utf-8")
    assert offline_problems(site, ["a.js"]) == []
    (site / "b.js").write_text('import("https://esm.sh/lodash")', encoding="utf-8")
    (site / "c.css").write_text("@import 'https://fonts.googleapis.com/css?family=X';",
                                encoding="utf-8")
    found = {p.path for p in offline_problems(site, ["b.js", "c.css"])}
    assert found == {"b.js", "c.css"}


def test_manifest_lists_every_file_with_its_siblings(bundle: Path) -> None:
    data = json.loads((bundle / "kiosk-bundle.json").read_text(encoding="utf-8"))
    rec = data["files"]["build/main.js"]
    assert set(rec) == {"size", "sha256", "br", "gzip"}
    assert "build/main.js.br" not in data["files"]
    assert data["files"][f"static/pyodide/{NUMPY}"]["sha256"] == sha(PACKAGES[NUMPY])
