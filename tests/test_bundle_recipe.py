"""`kiosk bundle build --if-missing` rebuilds when the recipe changed (make bundles-for-tests,
make run): a build counts only if its manifest records the recipe as it is now."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kiosk.bundle.active import current_bundle
from kiosk.bundle.manifest import read_manifest, write_manifest
from kiosk.bundle.profiles import load_profile, recipe_fingerprint
from kiosk.cli import main
from tests.bundle_fakes import make_bundle

PROFILE = """description = "a test recipe"
[versions]
jupyterlite_core = "0.6.4"
pyodide_kernel = "0.6.1"
pyodide = "0.27.7"
[build]
requirements = ["jupyterlite-core==0.6.4"]
[packages]
pyodide = ["micropip"]
pypi = ["comm==0.2.2"]
"""


@pytest.fixture
def recipes(tmp_path: Path) -> Path:
    folder = tmp_path / "recipes" / "fake"
    (folder / "content").mkdir(parents=True)
    (folder / "profile.toml").write_text(PROFILE, encoding="utf-8")
    (folder / "content" / "welcome.ipynb").write_text("{}", encoding="utf-8")
    return tmp_path / "recipes"


def fingerprint(recipes: Path) -> str:
    return recipe_fingerprint(load_profile(recipes, "fake"))


def built_from(bundle: Path, sha256: str | None) -> None:
    """Record in a fake build's manifest which recipe it was made from (None: none)."""
    manifest = read_manifest(bundle)
    extra = {k: v for k, v in manifest.extra.items() if k != "recipe"}
    if sha256 is not None:
        extra["recipe"] = {"sha256": sha256}
    write_manifest(bundle, dataclasses.replace(manifest, extra=extra))


def test_fingerprint_follows_every_recipe_file(recipes: Path) -> None:
    first = fingerprint(recipes)
    assert first == fingerprint(recipes)
    folder = recipes / "fake"
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "x.ipynb").write_text("{}", encoding="utf-8")
    assert fingerprint(recipes) == first, "editor leftovers are not part of the recipe"
    (folder / "content" / "welcome.ipynb").write_text('{"cells": []}', encoding="utf-8")
    second = fingerprint(recipes)
    assert second != first
    (folder / "content" / "welcome.ipynb").rename(folder / "content" / "hello.ipynb")
    assert fingerprint(recipes) not in {first, second}, "a renamed file is a change"


def test_if_missing_skips_only_a_build_of_the_same_recipe(
        recipes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    built: list[str] = []

    def fake_build(options, progress=None):  # a real build needs the network: count calls
        built.append(options.profile)
        raise SystemExit(0)

    monkeypatch.setattr("kiosk.bundle.build.build_bundle", fake_build)
    dist = tmp_path / "dist"
    bundle = make_bundle(dist / "fake-20261123T000000")
    args = ["bundle", "build", "--profile", "fake", "--recipes", str(recipes),
            "--bundles-dir", str(dist), "--if-missing", "--activate"]

    built_from(bundle, None)  # made before builds recorded their recipe
    with pytest.raises(SystemExit):
        main(args)
    assert built == ["fake"]
    assert "built from an older recipe" in capsys.readouterr().out

    built_from(bundle, fingerprint(recipes))
    assert main(args) == 0
    assert built == ["fake"], "the same recipe is not built again"
    assert "already built; now active" in capsys.readouterr().out
    assert current_bundle(dist) == bundle

    # A package added to the recipe: the existing build is stale.
    profile = recipes / "fake" / "profile.toml"
    profile.write_text(PROFILE.replace('"micropip"', '"micropip", "requests"'),
                       encoding="utf-8")
    with pytest.raises(SystemExit):
        main(args)
    assert built == ["fake", "fake"]


def test_a_rebuilt_extension_makes_the_build_stale(
        recipes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make bundles-for-tests` after a change to extension/src rebuilds the bundles."""
    built: list[str] = []

    def fake_build(options, progress=None):
        built.append(options.profile)
        raise SystemExit(0)

    monkeypatch.setattr("kiosk.bundle.build.build_bundle", fake_build)
    extension = tmp_path / "labextension"
    extension.mkdir()
    (extension / "package.json").write_text('{"jupyterlab": {"_build": {"load": "a.js"}}}',
                                            encoding="utf-8")
    dist = tmp_path / "dist"
    bundle = make_bundle(dist / "fake-20261123T000000")
    built_from(bundle, recipe_fingerprint(load_profile(recipes, "fake"), extension))
    args = ["bundle", "build", "--profile", "fake", "--recipes", str(recipes),
            "--bundles-dir", str(dist), "--if-missing", "--extension", str(extension)]
    assert main(args) == 0
    assert built == []
    (extension / "package.json").write_text('{"jupyterlab": {"_build": {"load": "b.js"}}}',
                                            encoding="utf-8")
    with pytest.raises(SystemExit):
        main(args)
    assert built == ["fake"]
