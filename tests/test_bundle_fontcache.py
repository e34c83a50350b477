"""matplotlib's prebuilt font cache (kiosk/bundle/fontcache.py): the wheel, the lock, checks.

The build itself (Pyodide under Node.js, then the check that the warning is gone) runs in
every science bundle build; tests/test_first_plot.py checks the result in a browser.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from kiosk.bundle import fontcache
from kiosk.bundle.pyodide import Lock, lock_problems
from kiosk.errors import BundleError

FONTLIST = json.dumps({
    "_version": 330, "defaultFamily": {"ttf": "DejaVu Sans"},
    "afmlist": [{"fname": "fonts/afm/putri8a.afm", "name": "Utopia"}],
    "ttflist": [{"fname": "fonts/ttf/DejaVuSans.ttf", "name": "DejaVu Sans"}],
})


def test_a_good_fontlist_passes() -> None:
    fontcache.check_fontlist(FONTLIST, 330)


@pytest.mark.parametrize("bad, words", [
    ("{", "not JSON"),
    (json.dumps({"_version": 390, "ttflist": [{"fname": "fonts/ttf/a.ttf"}]}), "wrong version"),
    (json.dumps({"_version": 330, "ttflist": []}), "no fonts"),
    (json.dumps({"_version": 330, "ttflist": [{"fname": "/System/Library/Fonts/x.ttc"}]}),
     "outside matplotlib"),
    (json.dumps({"_version": 330, "ttflist": [{"fname": "../../etc/x.ttf"}]}), "outside"),
])
def test_a_bad_fontlist_is_refused(bad: str, words: str) -> None:
    with pytest.raises(BundleError, match=words):
        fontcache.check_fontlist(bad, 330)


def test_the_wheel_holds_only_the_font_list_and_is_reproducible(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = fontcache.write_wheel(tmp_path / "a", "3.8.4", FONTLIST)
    second = fontcache.write_wheel(tmp_path / "b", "3.8.4", FONTLIST)
    assert first.name == "kiosk_matplotlib_fontcache-3.8.4-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        names = set(zf.namelist())
        assert zf.read("matplotlib/fontlist.json").decode() == FONTLIST
        record = zf.read("kiosk_matplotlib_fontcache-3.8.4.dist-info/RECORD").decode()
    assert names == {"matplotlib/fontlist.json",
                     "kiosk_matplotlib_fontcache-3.8.4.dist-info/METADATA",
                     "kiosk_matplotlib_fontcache-3.8.4.dist-info/WHEEL",
                     "kiosk_matplotlib_fontcache-3.8.4.dist-info/RECORD"}
    assert "matplotlib/fontlist.json,sha256=" in record
    assert fontcache.wheel_version(first.name) == "3.8.4"


def _lock(tmp_path: Path, wheel: Path) -> tuple[Lock, dict[str, str]]:
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    data = {"info": {"version": "0.27.7", "python": "3.12.7"}, "packages": {
        "matplotlib": {"name": "matplotlib", "version": "3.8.4", "depends": ["numpy"],
                       "file_name": "matplotlib-3.8.4-cp312-cp312-pyodide_2024_0_wasm32.whl",
                       "imports": ["pylab", "mpl_toolkits", "matplotlib"], "sha256": "aa"},
        "numpy": {"name": "numpy", "version": "2.0.2", "depends": [], "imports": ["numpy"],
                  "file_name": "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
                  "sha256": "bb"},
        fontcache.PACKAGE: {"name": fontcache.PACKAGE, "version": "3.8.4", "depends": [],
                            "imports": [], "file_name": wheel.name, "sha256": sha},
    }}
    data = fontcache.route_imports(data)
    path = tmp_path / "pyodide-lock.json"
    path.write_text(json.dumps(data))
    hashes = {"matplotlib-3.8.4-cp312-cp312-pyodide_2024_0_wasm32.whl": "aa",
              "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl": "bb", wheel.name: sha}
    return Lock.read(path), hashes


def test_import_matplotlib_loads_the_cache_after_matplotlib(tmp_path: Path) -> None:
    wheel = fontcache.write_wheel(tmp_path, "3.8.4", FONTLIST)
    lock, _ = _lock(tmp_path, wheel)
    ours = lock.packages[fontcache.PACKAGE]
    # `import matplotlib` in a cell names the cache wheel, which needs matplotlib first
    # (Pyodide unpacks a package after its dependencies, so our fontlist.json wins).
    assert ours["imports"] == ["pylab", "mpl_toolkits", "matplotlib"]
    assert ours["depends"] == ["matplotlib"]
    assert lock.packages["matplotlib"]["imports"] == []
    assert lock.packages["matplotlib"]["depends"] == ["numpy"]


def test_the_shipped_lock_accepts_the_built_wheel_only_with_its_hash(tmp_path: Path) -> None:
    wheel = fontcache.write_wheel(tmp_path, "3.8.4", FONTLIST)
    lock, hashes = _lock(tmp_path, wheel)
    official = {k: v for k, v in hashes.items() if k != wheel.name}
    built = {wheel.name: hashes[wheel.name]}
    assert lock_problems(lock, hashes, official, {}, built) == []
    # Not declared as built: refused, as any unknown file.
    assert any("neither an official" in p for p in lock_problems(lock, hashes, official, {}))
    # Declared, but another file than the one the build made.
    assert any("differs from the wheel the build made" in p
               for p in lock_problems(lock, hashes, official, {}, {wheel.name: "0" * 64}))
