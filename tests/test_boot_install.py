"""The Pi's install paths without a boot: ``kiosk bundle pack|unpack``, ``make pi-stick``'s
script, and ``scripts/install.sh``/``uninstall.sh`` staged into a temporary DESTDIR (never
the host), with a small bundle that passes ``kiosk bundle verify`` (tests/bundle_fakes.py).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kiosk.bundle.active import current_bundle, set_current
from kiosk.bundle.archive import pack_bundle, unpack_bundle
from kiosk.bundle.verify import verify_full
from kiosk.cli import main
from kiosk.errors import BundleError
from tests.bundle_fakes import make_bundle, official_lock_path, remanifest

REPO = Path(__file__).resolve().parent.parent


def _bundles(tmp_path: Path, name: str = "fake-20261123T000000") -> Path:
    bundles = tmp_path / "laptop-bundles"
    make_bundle(bundles / name)
    set_current(bundles, name)
    return bundles


def _install(script: str, dest: Path, repo: Path = REPO, **extra: str) -> str:
    env = {**os.environ, "DESTDIR": str(dest), "PIP_INSTALL": "0", "SYSTEMCTL": "0",
           "PYTHON": sys.executable, "VENV_ARGS": "--without-pip", **extra}
    result = subprocess.run(["bash", str(repo / "scripts" / script)], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_boot_pack_unpack_round_trip_verifies(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bundles = _bundles(tmp_path)
    archive = tmp_path / "stick" / "kiosk-bundle.tar"
    archive.parent.mkdir()
    assert main(["bundle", "pack", str(archive), "--bundles-dir", str(bundles)]) == 0
    pi = tmp_path / "pi-bundles"
    assert main(["bundle", "unpack", str(archive), "--bundles-dir", str(pi)]) == 0
    assert current_bundle(pi) == pi / "fake-20261123T000000"
    lock = official_lock_path(bundles / "fake-20261123T000000")
    assert main(["bundle", "verify", "fake-20261123T000000", "--bundles-dir", str(pi),
                 "--official-lock", str(lock)]) == 0
    for path in (bundles / "fake-20261123T000000").rglob("*"):
        twin = pi / path.relative_to(bundles)
        assert twin.is_dir() if path.is_dir() else twin.read_bytes() == path.read_bytes()
        assert (twin.stat().st_mode & 0o777) == (0o755 if path.is_dir() else 0o644)
    assert not [p for p in pi.iterdir() if p.name.startswith(".")]  # no leftovers
    # again: the same bundle is recognised, nothing changes
    assert main(["bundle", "unpack", str(archive), "--bundles-dir", str(pi)]) == 0
    assert "was already there" in capsys.readouterr().out


def test_boot_pack_without_active_bundle_says_what_to_do(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", "pack", str(tmp_path / "x.tar"), "--bundles-dir",
                 str(tmp_path)]) != 0
    assert "no active bundle" in capsys.readouterr().err
    assert not (tmp_path / "x.tar").exists()


def test_boot_unpack_refuses_a_tampered_bundle_and_installs_nothing(tmp_path: Path) -> None:
    bundles = _bundles(tmp_path)
    victim = bundles / "fake-20261123T000000" / "build" / "main.js"
    archive = tmp_path / "b.tar"
    pack_bundle(bundles / "fake-20261123T000000", archive)
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w") as out:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name.endswith("build/main.js"):
                body = victim.read_bytes().replace(b"hello", b"HELLO")
                member.size = len(body)
                out.addfile(member, io.BytesIO(body))
            else:
                out.addfile(member, data)
    pi = tmp_path / "pi"
    with pytest.raises(BundleError, match=r"fails verification.*nothing was installed"):
        unpack_bundle(tampered, pi)
    assert list(pi.iterdir()) == []


@pytest.mark.parametrize("evil", ["dotdot", "symlink", "two-tops", "no-manifest"])
def test_boot_unpack_refuses_foreign_archives(tmp_path: Path, evil: str) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        def add(name: str, data: bytes = b"x") -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        if evil != "no-manifest":
            add("b1/kiosk-bundle.json", b"{}")
        add("b1/index.html")
        if evil == "dotdot":
            add("b1/../../escape.txt")
        elif evil == "symlink":
            link = tarfile.TarInfo("b1/passwd")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tar.addfile(link)
        elif evil == "two-tops":
            add("b2/index.html")
    pi = tmp_path / "pi"
    with pytest.raises(BundleError):
        unpack_bundle(archive, pi)
    assert not (tmp_path / "escape.txt").exists()
    assert not pi.exists() or [p.name for p in pi.iterdir()] == []


def test_boot_unpack_never_replaces_a_different_bundle_of_the_same_name(tmp_path: Path) -> None:
    bundles = _bundles(tmp_path)
    archive = tmp_path / "b.tar"
    pack_bundle(bundles / "fake-20261123T000000", archive)
    pi = tmp_path / "pi"
    make_bundle(pi / "fake-20261123T000000")
    (pi / "fake-20261123T000000" / "extra.txt").write_text("mine")
    remanifest(pi / "fake-20261123T000000")
    with pytest.raises(BundleError, match="differs"):
        unpack_bundle(archive, pi)
    assert (pi / "fake-20261123T000000" / "extra.txt").read_text() == "mine"
    assert current_bundle(pi) is None


def test_boot_install_puts_the_bundle_where_the_service_looks(tmp_path: Path) -> None:
    bundles = _bundles(tmp_path)
    archive = tmp_path / "kiosk-bundle.tar"
    pack_bundle(bundles / "fake-20261123T000000", archive)
    dest = tmp_path / "root"
    _install("install.sh", dest, BUNDLE=str(archive))
    served = dest / "var/lib/kiosk/bundles"
    assert current_bundle(served) == served / "fake-20261123T000000"
    assert verify_full(served / "fake-20261123T000000") == []
    link = dest / "usr/local/bin/kiosk"
    assert os.readlink(link) == "/opt/kiosk/venv/bin/kiosk"
    _install("install.sh", dest, BUNDLE=str(archive))  # again: idempotent
    assert current_bundle(served) == served / "fake-20261123T000000"
    _install("uninstall.sh", dest)
    assert not link.is_symlink()
    assert (served / "fake-20261123T000000").is_dir()  # shares and bundles stay
    _install("uninstall.sh", dest, PURGE="1")
    assert not (dest / "var/lib/kiosk").exists()


def _fake_repo(tmp_path: Path) -> Path:
    """The scripts, unit and package of this checkout, with a bundles/dist of its own."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("install.sh", "uninstall.sh", "pi-stick.sh"):
        shutil.copy(REPO / "scripts" / name, repo / "scripts" / name)
    shutil.copytree(REPO / "systemd", repo / "systemd")
    (repo / "kiosk").symlink_to(REPO / "kiosk")
    return repo


def test_boot_install_takes_the_active_bundle_of_bundles_dist(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path)
    make_bundle(repo / "bundles" / "dist" / "fake-20261201T000000")
    set_current(repo / "bundles" / "dist", "fake-20261201T000000")
    dest = tmp_path / "root"
    _install("install.sh", dest, repo=repo, TMPDIR=str(tmp_path))
    served = dest / "var/lib/kiosk/bundles"
    assert current_bundle(served) == served / "fake-20261201T000000"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("kiosk-bundle.")] == []


def test_boot_install_without_a_bundle_says_how_to_get_one(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path)
    out = _install("install.sh", tmp_path / "root", repo=repo)
    assert "no bundle in the project folder" in out
    assert not (tmp_path / "root/var/lib/kiosk/bundles").exists()


def test_boot_pi_stick_then_install_from_the_stick(tmp_path: Path) -> None:
    """What `make pi-stick` writes is a project folder `make install` takes as is."""
    bundles = _bundles(tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "pi-stick.sh"), str(stick)],
        env={**os.environ, "BUNDLES_DIR": str(bundles),
             "KIOSK": str(Path(sys.executable).parent / "kiosk")},
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = stick / "kiosk"
    for wanted in ("Makefile", "pyproject.toml", "scripts/install.sh", "kiosk/cli/bundle.py",
                   "systemd/kiosk.service", "docs/operations.md", "kiosk-bundle.tar"):
        assert (folder / wanted).is_file(), wanted
    for unwanted in (".venv", ".git", "bundles/dist", "tests/browser/node_modules"):
        assert not (folder / unwanted).exists(), unwanted
    assert not [p for p in folder.rglob("*") if p.is_symlink()]  # a FAT stick has none
    dest = tmp_path / "root"
    _install("install.sh", dest, repo=folder)
    served = dest / "var/lib/kiosk/bundles"
    assert current_bundle(served) == served / "fake-20261123T000000"


def test_boot_pi_stick_refuses_a_missing_stick(tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(REPO / "scripts" / "pi-stick.sh"),
                             str(tmp_path / "not-plugged-in")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "is not a folder" in result.stderr


def test_boot_pi_guide_has_no_placeholders_and_names_its_blocks() -> None:
    """Every command of the Pi guide runs as written (test_boot_pi.py runs the blocks)."""
    from tests.container.guide import GUIDE, apt_packages, guide_block

    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("## A Raspberry Pi from scratch"):
                   text.index("### The boot test")]
    commands = re.findall(r"`([^`\n]+)`", section) + re.findall(r"```sh\n(.*?)```", section,
                                                                 re.S)
    assert commands
    for command in commands:
        assert not re.search(r"<[^>]+>", command), command  # no `<this repository>`
        assert "sudo -u kiosk" not in command  # DynamicUser=: there is no such user
    for block in ("laptop", "pi", "upgrade"):
        assert guide_block(block), block
    assert apt_packages(guide_block("pi")) == ["make", "python3-venv"]
    pi = "\n".join(guide_block("pi"))
    assert "sudo make install" in pi and "systemctl is-active kiosk" in pi
