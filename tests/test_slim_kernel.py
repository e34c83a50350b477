"""Issue 20, "send less": the science kernel starts without ssl, sqlite3 and jedi.

Three layers. The builder's pieces (kiosk/bundle/kernelstart.py) on small real inputs:
the worker patch, which must refuse a kernel it does not know; the lock trim; the
deferred-package finder of kiosk/bundle/kiosk_kernel_start.py, run here under CPython
with a real wheel (its synchronous download is the one stand-in: a function reading the
file, since XMLHttpRequest exists only in a browser). The built science bundle: its
worker and lock no longer start those packages. And headless Chromium on a plain-HTTP
origin (tests/browser/slim_kernel.mjs): the kernel starts and runs a cell with none of
their wheels fetched, completion is jedi's, `import sqlite3` / `import ssl` in a cell
still work, and so does a figure saved as PDF (which loads fontTools).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.bundle import kernelstart
from kiosk.bundle.kiosk_kernel_start import DeferredPackages
from kiosk.bundle.pyodide import Lock
from kiosk.errors import BundleError
from tests.browserlib import run_scenario
from tests.test_extension_e2e import _latest_bundle, _single_bundle_dir

#: what the 0.6.1 kernel's start used to fetch, and fontTools (now only for PDF/PS output)
NOT_AT_START = ("openssl-", "ssl-", "sqlite3-", "jedi-", "parso-", "fonttools-")

WORKER = ('async initKernel(e){let t=(e.loadPyodideOptions||{}).packages||[],'
          f'n={kernelstart.START_LIST},i=[];for(let e of n)t.includes(e)||'
          'i.push(`await piplite.install(\'${e}\', keep_going=True)`);'
          'i.push("import pyodide_kernel"),await this._pyodide.runPythonAsync(i.join("\\n"))}')


ENTRY = "remoteEntry.3745c44cbbd62cec9a73.js"
HASHES = ("dfd0b9431bfb4edbbcd2", "cc74f63a8f779ace30b6")


def _site(tmp_path: Path, *workers: str) -> Path:
    """A built site's kernel extension as webpack names it: chunks by content hash, a
    remoteEntry mapping chunk ids to those hashes, and the configs naming the entry."""
    site = tmp_path / "site"
    folder = site / kernelstart.WORKER_DIR / "static"
    folder.mkdir(parents=True)
    chunk_map = ",".join(f'{i}:"{HASHES[i]}"' for i in range(len(workers)))
    for i, text in enumerate(workers):
        name = f"{i}.{HASHES[i]}.js"
        (folder / name).write_text(f"/*! For license information please see {name}"
                                   f".LICENSE.txt */\n{text}", encoding="utf-8")
        (folder / f"{name}.LICENSE.txt").write_text("MIT\n", encoding="utf-8")
    (folder / ENTRY).write_text(f"n.u=e=>e+\".\"+{{{chunk_map}}}[e]+\".js\"",
                                encoding="utf-8")
    config = {"federated_extensions": [{"load": f"static/{ENTRY}"}]}
    (site / "jupyter-lite.json").write_text(json.dumps(config), encoding="utf-8")
    (site / kernelstart.WORKER_DIR / "package.json").write_text(
        json.dumps({"jupyterlab": {"_build": {"load": f"static/{ENTRY}"}}}), encoding="utf-8")
    return site


def test_patch_worker_slims_every_copy_under_new_names(tmp_path: Path) -> None:
    site = _site(tmp_path, WORKER + ";" + WORKER, "other code")
    assert kernelstart.worker_problems(site)
    patched = kernelstart.patch_worker(site)
    assert len(patched) == 1 and patched[0].name.startswith("0.")
    text = patched[0].read_text(encoding="utf-8")
    assert text.count(kernelstart.SLIM_LIST) == 2
    assert '"ssl"' not in text and '"jedi"' not in text and '"sqlite3"' not in text
    assert text.count('i.push("import kiosk_kernel_start","import pyodide_kernel")') == 2
    assert kernelstart.worker_problems(site) == []
    # Browsers keep content-hashed names for a year: the patched chunk has a new one, and
    # so does the entry that maps chunk ids to names; nothing names the old ones.
    new_hash = patched[0].name.split(".")[1]
    assert new_hash != HASHES[0] and len(new_hash) == len(HASHES[0])
    assert f"see {patched[0].name}.LICENSE.txt" in text
    static = site / kernelstart.WORKER_DIR / "static"
    assert sorted(p.name for p in static.iterdir()) == sorted([
        patched[0].name, f"{patched[0].name}.LICENSE.txt", f"1.{HASHES[1]}.js",
        f"1.{HASHES[1]}.js.LICENSE.txt", next(static.glob("remoteEntry.*.js")).name])
    entry = next(static.glob("remoteEntry.*.js"))
    assert entry.name != ENTRY
    assert f'0:"{new_hash}",1:"{HASHES[1]}"' in entry.read_text(encoding="utf-8")
    for config in (site / "jupyter-lite.json", site / kernelstart.WORKER_DIR / "package.json"):
        assert f"static/{entry.name}" in config.read_text(encoding="utf-8")


def test_patch_worker_refuses_a_site_that_names_the_old_chunk_elsewhere(
        tmp_path: Path) -> None:
    site = _site(tmp_path, WORKER)
    (site / "other.js").write_text(f'load("0.{HASHES[0]}.js")', encoding="utf-8")
    with pytest.raises(BundleError, match="still names the unpatched"):
        kernelstart.patch_worker(site)


def test_patch_worker_refuses_an_unknown_kernel(tmp_path: Path) -> None:
    newer = WORKER.replace('"ssl","sqlite3",', "")  # 0.8's list: not the known one
    with pytest.raises(BundleError, match=r"start list .* is not in"):
        kernelstart.patch_worker(_site(tmp_path, newer))
    moved = WORKER.replace('i.push("import pyodide_kernel")', 'i.push("import other")')
    with pytest.raises(BundleError, match="appears 1 times but"):
        kernelstart.patch_worker(_site(tmp_path / "b", moved))
    assert "import other" in (tmp_path / "b" / "site" / kernelstart.WORKER_DIR / "static"
                              / f"0.{HASHES[0]}.js").read_text(encoding="utf-8")


def test_trim_lock_and_deferred_entries() -> None:
    lock = {"packages": {
        "ipython": {"name": "ipython", "depends": ["pygments", "sqlite3", "traitlets"]},
        "matplotlib": {"name": "matplotlib", "depends": ["numpy", "fonttools"]},
        "jedi": {"name": "jedi", "depends": ["parso"], "imports": ["jedi"], "sha256": "a",
                 "file_name": "jedi-0.19.1-py2.py3-none-any.whl"},
        "fonttools": {"name": "fonttools", "imports": ["fontTools"], "sha256": "b",
                      "file_name": "fonttools-4.51.0-py3-none-any.whl"},
    }}
    kernelstart.trim_lock(lock)
    assert lock["packages"]["ipython"]["depends"] == ["pygments", "traitlets"]
    assert lock["packages"]["matplotlib"]["depends"] == ["numpy"]
    assert kernelstart.deferred_entries(lock) == {
        "fontTools": {"package": "fonttools", "sha256": "b",
                      "file_name": "fonttools-4.51.0-py3-none-any.whl"},
        "jedi": {"package": "jedi", "sha256": "a",
                 "file_name": "jedi-0.19.1-py2.py3-none-any.whl"},
    }
    lock["packages"]["jedi"]["file_name"] = "jedi-0.19.1-cp312-cp312-pyodide_wasm32.whl"
    with pytest.raises(BundleError, match="pure-Python"):
        kernelstart.deferred_entries(lock)


@pytest.fixture
def clean_imports() -> Iterator[None]:
    meta_path = list(sys.meta_path)
    yield
    sys.meta_path[:] = meta_path
    sys.modules.pop("kioskdeferredpkg", None)


def _wheel(path: Path) -> bytes:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("kioskdeferredpkg/__init__.py", "ANSWER = 42\n")
        zf.writestr("kioskdeferredpkg-1.0.dist-info/METADATA", "Name: kioskdeferredpkg\n")
    return path.read_bytes()


def test_deferred_package_is_fetched_checked_and_unpacked_on_first_import(
        tmp_path: Path, clean_imports: None, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _wheel(tmp_path / "kioskdeferredpkg-1.0-py3-none-any.whl")
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    fetched: list[str] = []
    marked: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return data

    entry = {"package": "kioskdeferredpkg", "sha256": hashlib.sha256(data).hexdigest(),
             "file_name": "kioskdeferredpkg-1.0-py3-none-any.whl"}
    finder = DeferredPackages({"kioskdeferredpkg": entry}, "http://kiosk.test/static/pyodide",
                              str(site), fetch=fetch, mark_loaded=marked.append)
    sys.meta_path.insert(0, finder)
    importlib.import_module("json")  # not deferred: nothing fetched
    assert fetched == []
    module = importlib.import_module("kioskdeferredpkg")
    assert module.ANSWER == 42
    assert fetched == ["http://kiosk.test/static/pyodide/kioskdeferredpkg-1.0-py3-none-any.whl"]
    assert marked == ["kioskdeferredpkg"] and finder.pending == {}


def test_deferred_package_with_another_hash_is_refused(
        tmp_path: Path, clean_imports: None, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _wheel(tmp_path / "kioskdeferredpkg-1.0-py3-none-any.whl")
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    entry = {"package": "kioskdeferredpkg", "sha256": "0" * 64,
             "file_name": "kioskdeferredpkg-1.0-py3-none-any.whl"}
    sys.meta_path.insert(0, DeferredPackages({"kioskdeferredpkg": entry}, "http://k/",
                                             str(site), fetch=lambda _url: data))
    with pytest.raises(ImportError, match="sha256 differs"):
        importlib.import_module("kioskdeferredpkg")
    assert list(site.iterdir()) == []


def _start_closure(lock: Lock) -> list[str]:
    """What the patched worker installs before the first cell, with all dependencies."""
    starts = json.loads(kernelstart.SLIM_LIST)
    return lock.closure(n for n in starts if n.replace("_", "-") in lock.packages)


@pytest.mark.bundle
def test_built_science_bundle_starts_slim() -> None:
    bundle = _latest_bundle("science")
    assert kernelstart.worker_problems(bundle) == []
    pyodide = bundle / "static" / "pyodide"
    lock = Lock.read(pyodide / "pyodide-lock.json")
    closure = _start_closure(lock)
    for name in ("ssl", "openssl", "sqlite3", "jedi", "parso", "fonttools"):
        assert name not in closure, closure
        assert name in lock.packages, f"{name} must stay loadable by a cell"
    assert "kiosk-kernel-start" in closure and "ipython" in closure
    assert "fonttools" not in lock.packages["matplotlib"]["depends"]
    start = lock.packages["kiosk-kernel-start"]
    with zipfile.ZipFile(pyodide / start["file_name"]) as wheel:
        deferred = json.loads(wheel.read(f"{kernelstart.MODULE}/{kernelstart.DEFERRED_FILE}"))
    by_file = lock.by_file()
    assert {e["package"] for e in deferred.values()} == {"jedi", "parso", "fonttools"}
    for entry in deferred.values():
        assert by_file[entry["file_name"]]["sha256"] == entry["sha256"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.bundle
@pytest.mark.parametrize("host", ["kiosk.test", "localhost"])
def test_slim_kernel_in_chromium(host: str, kiosk_process: Any, tmp_path: Path) -> None:
    """kiosk.test: plain HTTP (the kiosk's relay); localhost: a secure context, where
    JupyterLite's service worker sits between the kernel and the kiosk."""
    bundle = _latest_bundle("science")
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)),
                       "--host-aliases", "kiosk.test")
    r = run_scenario("slim_kernel", {"origin": f"http://{host}:{kp.port}",
                                     "timeoutMs": 240000}, timeout=400)
    assert r["secure"] is (host == "localhost")
    early = [w["name"] for w in r["wheels"] if w["before"] in ("start", "first cell")]
    assert any(n.startswith("kiosk_kernel_start-") for n in early), r["wheels"]
    assert [n for n in early if n.startswith(NOT_AT_START)] == [], r["wheels"]
    assert r["first"] == {"status": "ok", "text": "5\n"}, r
    # IPython's history without sqlite3: in memory, as the kernel always kept it.
    assert r["history"]["status"] == "ok", r
    assert r["history"]["text"].endswith('word = "kiosk"\nprint(len(word))\n%history\n'), r
    # Tab on an attribute of a variable, then a name only jedi finds (colorsys is not
    # imported in the kernel: IPython's own completer knows nothing of it).
    assert r["attribute"]["status"] == "ok"
    assert any(m.endswith("upper") for m in r["attribute"]["matches"]), r["attribute"]
    assert {"rgb_to_hls", "rgb_to_hsv"} <= set(r["jediOnly"]["matches"]), r["jediOnly"]
    loaded_by_completion = [w["name"] for w in r["wheels"] if w["before"] == "first completion"]
    assert any(n.startswith("jedi-") for n in loaded_by_completion), r["wheels"]
    assert r["sqlite"] == {"status": "ok", "text": "42\n"}, r
    assert r["ssl"] == {"status": "ok", "text": "OpenSSL\n"}, r
    assert r["pdf"] == {"status": "ok", "text": "b'%PDF-'\n"}, r
    matplotlib_cell = [w["name"] for w in r["wheels"] if w["before"] == "pdf cell"]
    assert any(n.startswith("fonttools-") for n in matplotlib_cell), r["wheels"]
    fetched = [w["name"] for w in r["wheels"]]
    for prefix in ("sqlite3-", "openssl-", "jedi-", "parso-", "fonttools-"):
        assert sum(n.startswith(prefix) for n in fetched) == 1, fetched


def test_recipe_slim_start_must_be_a_boolean(tmp_path: Path) -> None:
    from kiosk.bundle.profiles import load_profile

    recipe = tmp_path / "lesson"
    recipe.mkdir()
    base = ('[versions]\njupyterlite_core = "0.6.4"\npyodide_kernel = "0.6.1"\n'
            'pyodide = "0.27.7"\n')
    (recipe / "profile.toml").write_text(base + '[kernel]\nslim_start = "yes"\n')
    with pytest.raises(BundleError, match="slim_start must be true or false"):
        load_profile(tmp_path, "lesson")
    (recipe / "profile.toml").write_text(base + "[kernel]\nslim_start = true\n")
    assert load_profile(tmp_path, "lesson").slim_kernel_start is True
    (recipe / "profile.toml").write_text(base)
    assert load_profile(tmp_path, "lesson").slim_kernel_start is False
