"""`kiosk bundle build --pyodide-archive`: the official full release archive layout.

The archive is assembled here from the official files the builder caches (npm
``pyodide@0.27.7`` for the runtime and lock, the hash-checked carrier for packages),
in the release layout: ``pyodide-<version>.tar.bz2`` holding ``pyodide/`` with the
runtime, ``pyodide-lock.json`` and the package files. Downloads and build
environments come from the shared cache (~/.cache/kiosk/bundles), so only the first run of
the whole suite pays for them.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest

from kiosk.bundle.fetch import Cache
from kiosk.bundle.manifest import read_manifest
from kiosk.bundle.profiles import default_cache_dir, default_recipes_dir, load_profile
from kiosk.bundle.pyodide import RUNTIME_FILES
from kiosk.bundle.verify import verify_full
from kiosk.cli import main

pytestmark = [pytest.mark.slow]

SHARED_CACHE = default_cache_dir()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_700_000_000  # fixed: the same files give the same archive (cache hit)
    tar.addfile(info, io.BytesIO(data))


def official_sources() -> tuple[Path, Path]:
    """The cached npm package (runtime, lock) and carrier folder (official packages)."""
    profile = load_profile(default_recipes_dir(), "science")
    cache = Cache(SHARED_CACHE)
    assert profile.carrier and profile.carrier_path
    return (cache.npm_package("pyodide", profile.pyodide),
            cache.carrier(profile.carrier, profile.carrier_path))


def assemble_archive(dest: Path, packages: list[str], *, runtime: bool = True,
                     tamper: str | None = None) -> Path:
    """pyodide-0.27.7.tar.bz2 in the official layout with the given package files (all
    official), optionally with one file changed by one bit."""
    npm, carrier = official_sources()
    with tarfile.open(dest, "w:bz2", compresslevel=1) as tar:
        names = [*RUNTIME_FILES, "package.json"] if runtime else []
        for name in [*names, "pyodide-lock.json"]:
            if (npm / name).is_file():
                _add(tar, f"pyodide/{name}", (npm / name).read_bytes())
        for name in packages:
            data = (carrier / name).read_bytes()
            if name == tamper:
                data = data[:-1] + bytes([data[-1] ^ 1])
            _add(tar, f"pyodide/{name}", data)
    return dest


@pytest.fixture
def mini_recipes(tmp_path: Path) -> Path:
    """The science recipe with only a few Pyodide packages (same build environment)."""
    recipes = tmp_path / "recipes"
    shutil.copytree(default_recipes_dir() / "science", recipes / "science")
    toml = recipes / "science" / "profile.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^pyodide = \[.*?\]", 'pyodide = ["micropip", "six"]', text)
    toml.write_text(text, encoding="utf-8")
    return recipes


MINI = ["micropip-0.9.0-py3-none-any.whl", "packaging-24.2-py3-none-any.whl",
        "six-1.16.0-py2.py3-none-any.whl"]


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A cache sharing the slow parts (environments, downloads, compression) with the
    real one, but with its own unpacked archives and work folders."""
    SHARED_CACHE.mkdir(parents=True, exist_ok=True)
    mine = tmp_path / "cache"
    mine.mkdir()
    for part in ("venvs", "npm", "pypi", "carriers", "compressed"):
        (SHARED_CACHE / part).mkdir(exist_ok=True)
        (mine / part).symlink_to(SHARED_CACHE / part)
    return mine


def test_build_fails_naming_a_package_that_differs_from_the_official_lock(
        tmp_path: Path, cache_dir: Path, mini_recipes: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    six = "six-1.16.0-py2.py3-none-any.whl"
    archive = assemble_archive(tmp_path / "pyodide-0.27.7.tar.bz2", MINI, runtime=False,
                               tamper=six)
    code = main(["bundle", "build", "--recipes", str(mini_recipes), "--pyodide-archive",
                 str(archive), "--cache-dir", str(cache_dir),
                 "--bundles-dir", str(tmp_path / "dist")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{six}: sha256" in err and "official" in err
    assert "step 4/10" in err
    assert not list((tmp_path / "dist").glob("science-*"))


def test_build_rejects_an_archive_of_another_layout(
        tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "pyodide-0.27.7.tar.bz2"
    with tarfile.open(bad, "w:bz2") as tar:
        _add(tar, "something/else.txt", b"hello")
    code = main(["bundle", "build", "--profile", "science", "--pyodide-archive", str(bad),
                 "--cache-dir", str(cache_dir), "--bundles-dir", str(tmp_path / "dist")])
    assert code == 2
    assert "official full release layout" in capsys.readouterr().err


def test_build_from_the_official_archive_layout(tmp_path: Path, cache_dir: Path,
                                                mini_recipes: Path) -> None:
    archive = assemble_archive(tmp_path / "pyodide-0.27.7.tar.bz2", MINI)
    out = tmp_path / "dist"
    code = main(["bundle", "build", "--recipes", str(mini_recipes), "--pyodide-archive",
                 str(archive), "--cache-dir", str(cache_dir), "--bundles-dir", str(out),
                 "--quiet"])
    assert code == 0
    (bundle,) = out.glob("science-*")
    assert (out / "current").read_text(encoding="utf-8").strip() == bundle.name
    manifest = read_manifest(bundle)
    info = manifest.extra["pyodide"]
    assert info["official_source"] == "archive"
    assert set(MINI) <= set(info["official"])
    npm_lock = SHARED_CACHE / "npm" / "pyodide-0.27.7" / "package" / "pyodide-lock.json"
    assert verify_full(bundle, official_lock=npm_lock) == []
    shipped = json.loads((bundle / "static/pyodide/pyodide-lock.json").read_text("utf-8"))
    # The mini recipe's Pyodide packages (and micropip's dependency), plus its PyPI ones
    # and the kiosk's kernel-start wheel (the science recipe's [kernel] slim_start).
    profile = load_profile(mini_recipes, "science")
    from_pypi = {pin.split("==")[0] for pin in profile.pypi_wheels}
    assert {"comm", "pyodide-http", "requests"} <= from_pypi
    assert profile.slim_kernel_start
    assert set(shipped["packages"]) == ({"micropip", "packaging", "six", "kiosk-kernel-start"}
                                        | from_pypi)
    assert manifest.versions["pyodide"] == "0.27.7"
    assert manifest.versions["packages"]["six"] == "1.16.0"
    assert (bundle / "files" / "Welcome.ipynb").is_file()
