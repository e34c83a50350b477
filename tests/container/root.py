"""A Debian Bookworm root for the boot test, debootstrapped once and cached as a tarball.

The root holds what a fresh Raspberry Pi OS Lite has that matters here (systemd as
init, dbus, sudo, a first user ``teacher`` who may use sudo without a password) plus
the packages the guide's ``apt-get install`` line names, so the guide's own apt line
finds them installed. Its apt has no sources: the container has no network, and the
guide's ``apt-get update`` then succeeds without fetching anything.

Cache: ``~/.cache/kiosk/boot/root-<hash>.tar`` (``$KIOSK_BOOT_CACHE`` overrides the
folder), the hash covering the package list, the suite and this file's recipe version,
so a changed guide builds a new root. Building takes about 3 minutes (debootstrap
from deb.debian.org, the Debian registry this machine may use); a cached root unpacks
in seconds.

The wheel folder: pip inside the container has no internet either, so the kiosk's
Python dependencies (and setuptools for building it) are downloaded here by pip, once
per ``pyproject.toml``, into ``~/.cache/kiosk/boot/wheels-<hash>/``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.container.guide import REPO

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
#: what Raspberry Pi OS Lite has and the guide relies on, besides its apt-get line
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "sudo", "libnss-systemd")
#: bump when the recipe below changes
RECIPE = "2"
USER = "teacher"
HOSTNAME = "raspberrypi"


def cache_dir() -> Path:
    return Path(os.environ.get("KIOSK_BOOT_CACHE", Path.home() / ".cache" / "kiosk" / "boot"))


def root_key(packages: list[str]) -> str:
    wanted = sorted({*BASE_PACKAGES, *packages})
    text = f"{RECIPE} {SUITE} {MIRROR} {' '.join(wanted)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _chroot(root: Path, *command: str) -> None:
    subprocess.run(["chroot", str(root), *command], check=True, timeout=300,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})


def build_root(dest: Path, packages: list[str]) -> None:
    """debootstrap a root into ``dest`` and set it up like a fresh Pi."""
    wanted = sorted({*BASE_PACKAGES, *packages})
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(wanted)}",
                    SUITE, str(dest), MIRROR], check=True, timeout=1200,
                   stdout=subprocess.DEVNULL)
    _chroot(dest, "useradd", "--create-home", "--shell", "/bin/bash", USER)
    sudoers = dest / "etc" / "sudoers.d" / USER
    sudoers.write_text(f"{USER} ALL=(ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    (dest / "etc" / "apt" / "sources.list").write_text(
        "# no sources: the boot test's container has no network\n")
    for leftover in (dest / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        leftover.unlink()
    for lists in (dest / "var" / "lib" / "apt" / "lists").iterdir():
        if lists.is_file():
            lists.unlink()


def cached_root(packages: list[str]) -> Path:
    """The cached root tarball for ``packages``, built first when missing."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"root-{root_key(packages)}.tar"
    if tarball.is_file():
        return tarball
    work = cache / f".build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        build_root(work, packages)
        tmp = tarball.with_name(f".{tarball.name}.{os.getpid()}.tmp")
        subprocess.run(["tar", "-C", str(work), "--numeric-owner", "-cf", str(tmp), "."],
                       check=True, timeout=600)
        os.replace(tmp, tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


def unpack_root(tarball: Path, dest: Path) -> str:
    """Unpack a root, name it like a fresh Pi; return its Python version (``3.11.2``)."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-C", str(dest), "--numeric-owner", "-xpf", str(tarball)],
                   check=True, timeout=600)
    (dest / "etc" / "hostname").write_text(f"{HOSTNAME}\n")
    with (dest / "etc" / "hosts").open("a") as hosts:
        hosts.write(f"127.0.1.1\t{HOSTNAME}\n")  # as Raspberry Pi OS has it (sudo wants it)
    version = subprocess.run(["chroot", str(dest), "python3", "-c",
                              "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True, timeout=60)
    return version.stdout.strip()


def cached_wheels(python_version: str) -> Path:
    """A folder with every wheel ``pip install`` of the kiosk needs, offline, for the
    root's Python (``python_version``: Debian's 3.11.2 must not get a package that wants
    3.11.5, as it would not from PyPI either)."""
    pyproject = (REPO / "pyproject.toml").read_bytes()
    key = hashlib.sha256(f"{RECIPE} {python_version} ".encode() + pyproject).hexdigest()[:16]
    folder = cache_dir() / f"wheels-{key}"
    if folder.is_dir():
        return folder
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    own = tmp / "own"
    subprocess.run([*pip, "wheel", "--no-deps", "--wheel-dir", str(own), str(REPO)],
                   check=True, timeout=900)
    target = ["--only-binary=:all:", "--python-version", python_version, "--dest", str(tmp)]
    subprocess.run([*pip, "download", *target, *map(str, own.glob("*.whl")),
                    "setuptools>=68", "wheel"], check=True, timeout=900)
    for wheel in [*own.glob("*.whl"), *tmp.glob("jupyterlite_kiosk-*.whl")]:
        wheel.unlink()  # the guide installs the kiosk from the project folder
    own.rmdir()
    try:
        os.rename(tmp, folder)
    except OSError:  # another run finished first: use its folder
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
