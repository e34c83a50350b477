"""`kiosk bundle ...`: exit codes and messages (0 good, 1 failed check, 2 error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.bundle.active import current_bundle
from kiosk.cli import main
from tests.bundle_fakes import make_bundle, official_lock_path


@pytest.fixture
def bundles_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    make_bundle(root / "fake-20261123T000000")
    return root


def test_verify_exit_codes(bundles_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = bundles_dir / "fake-20261123T000000"
    lock = ["--official-lock", str(official_lock_path(bundle))]
    assert main(["bundle", "verify", str(bundle), *lock]) == 0
    assert "OK" in capsys.readouterr().out
    (bundle / "build" / "main.js").write_text("changed", encoding="utf-8")
    assert main(["bundle", "verify", str(bundle), *lock]) == 1
    err = capsys.readouterr().err
    assert "build/main.js" in err and "kiosk bundle build" in err
    assert main(["bundle", "verify", str(bundles_dir / "nothing")]) == 2


def test_verify_accepts_a_name_in_the_bundles_dir(bundles_dir: Path) -> None:
    lock = official_lock_path(bundles_dir / "x")
    assert main(["bundle", "verify", "fake", "--bundles-dir", str(bundles_dir),
                 "--official-lock", str(lock)]) == 0


def test_verify_against_another_official_lock_fails(bundles_dir: Path) -> None:
    # The builder's cached npm lock (if any) or any other lock: not what this fake
    # bundle was built against, so its "official" packages do not match.
    other = bundles_dir / "other-lock.json"
    other.write_text('{"info": {}, "packages": {}}', encoding="utf-8")
    assert main(["bundle", "verify", "fake", "--bundles-dir", str(bundles_dir),
                 "--official-lock", str(other)]) == 1


def test_list_shows_recipes_and_builds(bundles_dir: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", "list", "--bundles-dir", str(bundles_dir)]) == 0
    out = capsys.readouterr().out
    assert "science" in out and "core" in out
    assert "fake-20261123T000000" in out


def test_use_by_profile_switches_current(bundles_dir: Path) -> None:
    assert current_bundle(bundles_dir) is None
    assert main(["bundle", "use", "fake", "--bundles-dir", str(bundles_dir)]) == 0
    assert current_bundle(bundles_dir) == bundles_dir / "fake-20261123T000000"
    assert main(["bundle", "use", "nothing", "--bundles-dir", str(bundles_dir)]) == 2


def test_use_refuses_a_broken_bundle(bundles_dir: Path) -> None:
    (bundles_dir / "fake-20261123T000000" / "lab" / "index.html").unlink()
    assert main(["bundle", "use", "fake", "--bundles-dir", str(bundles_dir)]) == 1
    assert current_bundle(bundles_dir) is None


def test_build_unknown_profile_fails_fast(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bundle", "build", "--profile", "nope", "--cache-dir", str(tmp_path / "c"),
                 "--bundles-dir", str(tmp_path / "d"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no bundle profile 'nope'" in err and "science" in err
    assert "step 1/10" in err


def test_build_missing_archive_fails_fast(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bundle", "build", "--profile", "core", "--pyodide-archive",
                 str(tmp_path / "pyodide-314.0.7.tar.bz2"), "--cache-dir", str(tmp_path / "c"),
                 "--bundles-dir", str(tmp_path / "d"), "--quiet"])
    assert code == 2
    assert "no such file" in capsys.readouterr().err


def test_prune_keeps_the_newest_and_the_active(tmp_path: Path) -> None:
    from kiosk.bundle.active import set_current
    from kiosk.bundle.catalog import built_bundles, prune
    from tests.bundle_fakes import remanifest

    dist = tmp_path / "dist"
    names = [f"fake-2026112{i}T000000" for i in range(4)]
    for i, name in enumerate(names):
        make_bundle(dist / name)
        # built_at orders the builds
        manifest = dist / name / "kiosk-bundle.json"
        manifest.write_text(manifest.read_text(encoding="utf-8").replace(
            "2026-11-23T00:00:00", f"2026-11-2{i}T00:00:00"), encoding="utf-8")
        remanifest(dist / name)
    set_current(dist, names[0])
    deleted = prune(dist, "fake", keep=2)
    assert sorted(p.name for p in deleted) == [names[1]]
    assert [b.name for b in built_bundles(dist)] == [names[0], names[2], names[3]]
