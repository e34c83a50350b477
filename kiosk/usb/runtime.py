"""A Python runtime on the stick for Linux laptops that have none (``--with-python``).

Why Linux only, and why Debian's build: the launcher needs Python 3.11 or newer, and
the only registries this project builds from are PyPI, npm and Debian. None of them
publishes a CPython for Windows or macOS that can be checked (see docs/usb.md, "A
Python runtime on the stick"). Debian does publish CPython for Linux, signed: ``apt``
checks every package against the archive's signed ``InRelease``. So ``kiosk usb make
--with-python`` fetches Debian 12's Python 3.11 with ``apt-get download`` (a private
apt state in the cache, Debian's own keyring, the target's architecture) and packs it
into one file, ``kiosk/python/<platform>.tar.gz``:

    bin/python3.11          Debian's interpreter, unchanged
    lib/python3.11/...      its standard library (without the test suites)
    lib/lib*.so*            the shared libraries its modules need (OpenSSL, SQLite,
                            libffi, bz2, lzma, uuid), unchanged
    kiosk-runtime.json      what it holds: Debian packages and versions

One file keeps the stick FAT-safe (no symlinks, no executable bits, no long names).
``start.sh`` unpacks it with ``tar`` into the laptop's user data folder when the
laptop has no suitable Python of its own and runs ``launch.py`` with it, with
``LD_LIBRARY_PATH`` pointing at its ``lib``. Python finds its standard library
relative to the interpreter (``lib/python3.11/os.py`` beside ``bin/``), so the folder
can live anywhere. Debian 12's build needs glibc 2.35 or newer on the laptop, with
libexpat and zlib (Debian 12, Ubuntu 22.04, Fedora 36 and newer): among them the
systems whose own Python is older than 3.11 (Ubuntu 22.04 has 3.10).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import lzma
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kiosk.errors import UsbError

LOG = logging.getLogger("kiosk.usb")

#: the Python version of the shipped runtime (Debian 12 "bookworm")
PYTHON = "3.11"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: the interpreter, its standard library, and the libraries its modules link to. The
#: laptop gives glibc (2.35 or newer: the interpreter's own floor), libexpat and zlib:
#: every Linux desktop has those two, and Debian 12's libexpat would raise the floor to
#: glibc 2.36, which Ubuntu 22.04 lacks.
PACKAGES = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib",
            "libssl3", "libsqlite3-0", "libffi8", "libbz2-1.0", "liblzma5", "libuuid1")
#: the stick's platforms a runtime can be made for: Debian architecture, multiarch triplet
ARCHES = {"linux-x86_64": ("amd64", "x86_64-linux-gnu"),
          "linux-aarch64": ("arm64", "aarch64-linux-gnu")}
#: standard-library folders a kiosk never imports (they are most of its size)
SKIP_STDLIB = ("test", "idlelib", "tkinter", "turtledemo", "lib2to3/tests",
               "distutils/tests", "unittest/test", "ctypes/test", "sqlite3/test")
INFO_NAME = "kiosk-runtime.json"


def stick_path(key: str) -> str:
    """Where the runtime of platform ``key`` lives on the stick."""
    return f"kiosk/python/{key}.tar.gz"


@dataclass(frozen=True, slots=True)
class Runtime:
    """A packed runtime: its file, what it holds, and its short id (names its folder)."""

    key: str
    archive: Path
    python: str
    packages: dict[str, str]
    sha256: str

    @property
    def short_id(self) -> str:
        """The folder name ``start.sh`` unpacks it into (a new runtime, a new folder)."""
        return f"py{self.python.replace('.', '')}-{self.sha256[:12]}"

    def describe(self) -> dict[str, object]:
        """What ``kiosk-usb.json`` says about it."""
        return {"file": stick_path(self.key), "python": self.python, "id": self.short_id,
                "source": f"Debian {SUITE}", "packages": self.packages}


# -- reading .deb files ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DebMember:
    """One file, folder or symlink of a package's data, with its path made relative."""

    path: PurePosixPath
    kind: str  # "file", "dir" or "link"
    data: bytes = b""
    target: str = ""
    mode: int = 0o644


def _ar_members(blob: bytes) -> Iterator[tuple[str, bytes]]:
    if not blob.startswith(b"!<arch>\n"):
        raise UsbError("not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        pos += 60
        yield name, blob[pos:pos + size]
        pos += size + (size % 2)


def deb_members(deb: Path) -> Iterator[DebMember]:
    """The files of a ``.deb`` (its ``data.tar.xz``/``.gz``), read without dpkg."""
    for name, packed in _ar_members(deb.read_bytes()):
        if not name.startswith("data.tar"):
            continue
        if name.endswith(".xz"):
            body = lzma.decompress(packed)
        elif name.endswith(".gz"):
            body = gzip.decompress(packed)
        elif name == "data.tar":
            body = packed
        else:
            raise UsbError(f"{deb.name}: unsupported compression {name}")
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            for info in tar:
                path = PurePosixPath(info.name.removeprefix("./"))
                if info.isdir():
                    yield DebMember(path, "dir", mode=info.mode)
                elif info.issym():
                    yield DebMember(path, "link", target=info.linkname, mode=0o777)
                elif info.isfile():
                    fh = tar.extractfile(info)
                    assert fh is not None
                    yield DebMember(path, "file", fh.read(), mode=info.mode)
        return
    raise UsbError(f"{deb.name}: no data.tar member")


def _place(member: DebMember, triplet: str) -> str | None:
    """Where a package's file goes in the runtime, or None if the kiosk never needs it."""
    parts = member.path.parts
    if parts[:2] == ("usr", "lib"):
        parts = parts[1:]
    if parts[:2] == ("usr", "bin"):
        return f"bin/{parts[2]}" if parts[2:] == (f"python{PYTHON}",) else None
    if parts[:2] == ("lib", f"python{PYTHON}") and len(parts) > 2:
        rest = "/".join(parts[2:])
        if any(rest == skip or rest.startswith(skip + "/") for skip in SKIP_STDLIB):
            return None
        return f"lib/python{PYTHON}/{rest}"
    if parts[:2] == ("lib", triplet) and len(parts) == 3 and ".so" in parts[2]:
        return f"lib/{parts[2]}"
    return None


def build_archive(debs: list[Path], dest: Path, key: str) -> Runtime:
    """Pack the runtime from Debian packages into ``dest`` (deterministic bytes)."""
    _arch, triplet = ARCHES[key]
    placed: dict[str, DebMember] = {}
    packages: dict[str, str] = {}
    for deb in sorted(debs):
        name, version = deb.name.split("_")[:2]
        packages[name] = version.replace("%3a", ":")
        for member in deb_members(deb):
            if member.kind == "dir":
                continue
            if member.kind == "link" and member.target.startswith("/"):
                # e.g. sitecustomize.py -> /etc/python3.11/...: it would reach into the
                # laptop's own files, so the runtime goes without it
                continue
            where = _place(member, triplet)
            if where is not None:
                placed[where] = member
    interpreter = f"bin/python{PYTHON}"
    missing = [p for p in (interpreter, f"lib/python{PYTHON}/os.py",
                           f"lib/python{PYTHON}/venv/__init__.py",
                           f"lib/python{PYTHON}/lib-dynload") if not _has(placed, p)]
    if missing:
        raise UsbError(f"the Debian packages lack {', '.join(missing)}: not a Python "
                       f"{PYTHON} runtime")
    info = {"python": PYTHON, "source": f"Debian {SUITE}", "packages": packages,
            "interpreter": interpreter}
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, INFO_NAME, DebMember(PurePosixPath(INFO_NAME), "file",
                                       (json.dumps(info, indent=1) + "\n").encode()))
        for where in sorted(placed):
            _add(tar, where, placed[where])
    data = buf.getvalue()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return Runtime(key, dest, PYTHON, packages, hashlib.sha256(data).hexdigest())


def _has(placed: dict[str, DebMember], path: str) -> bool:
    return path in placed or any(p.startswith(path + "/") for p in placed)


def _add(tar: tarfile.TarFile, where: str, member: DebMember) -> None:
    info = tarfile.TarInfo(where)
    info.mtime = 0
    info.uname = info.gname = "root"
    if member.kind == "link":
        info.type = tarfile.SYMTYPE
        info.linkname = member.target
        info.mode = 0o777
        tar.addfile(info)
    else:
        info.size = len(member.data)
        info.mode = 0o755 if member.mode & 0o111 else 0o644
        tar.addfile(info, io.BytesIO(member.data))


# -- fetching with apt ----------------------------------------------------------------------

def _apt_options(root: Path, arch: str) -> list[str]:
    return ["-o", f"Dir::State={root / 'state'}",
            "-o", f"Dir::State::status={root / 'state' / 'status'}",
            "-o", f"Dir::Cache={root / 'cache'}",
            "-o", f"Dir::Etc::SourceList={root / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"APT::Architecture={arch}", "-o", f"APT::Architectures::={arch}",
            "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root", "-q"]


def _apt(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise UsbError(f"{what} failed ({' '.join(cmd[:1] + cmd[-3:])}):\n"
                       f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def fetch_debs(key: str, cache: Path) -> list[Path]:
    """Download the runtime's Debian packages for ``key`` with apt (signatures checked).

    apt runs with its own state under ``cache`` (the machine's apt configuration is
    neither read nor changed), Debian's mirrors and Debian's archive keyring, for the
    target's architecture, so any Debian or Ubuntu machine can make a stick for either
    processor.
    """
    if shutil.which("apt-get") is None:
        raise UsbError("--with-python needs apt-get (a Debian or Ubuntu machine)")
    if not KEYRING.is_file():
        raise UsbError(f"--with-python needs Debian's archive keyring ({KEYRING}): "
                       "sudo apt install debian-archive-keyring")
    arch, _ = ARCHES[key]
    root = cache / f"apt-{arch}"
    for folder in (root / "state" / "lists" / "partial", root / "cache" / "archives" / "partial"):
        folder.mkdir(parents=True, exist_ok=True)
    (root / "state" / "status").touch()
    signed = f"[signed-by={KEYRING}]"
    (root / "sources.list").write_text(
        f"deb {signed} {MIRROR} {SUITE} main\n"
        f"deb {signed} {SECURITY_MIRROR} {SUITE}-security main\n", encoding="utf-8")
    options = _apt_options(root, arch)
    _apt(["apt-get", *options, "update"], root, "apt-get update (Debian's package lists)")
    out = root / "debs"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    _apt(["apt-get", *options, "download", *(f"{p}:{arch}" for p in PACKAGES)], out,
         "apt-get download (the Python runtime)")
    debs = sorted(out.glob("*.deb"))
    if len(debs) != len(PACKAGES):
        raise UsbError(f"apt-get download gave {len(debs)} packages, expected {len(PACKAGES)}")
    return debs


def make_runtime(key: str, cache: Path, *, refresh: bool = False) -> Runtime:
    """The runtime for platform ``key``: packed once, then reused from the cache."""
    if key not in ARCHES:
        raise UsbError(f"--with-python: no runtime for {key}; Debian's Python serves "
                       + ", ".join(ARCHES))
    recipe = hashlib.sha256(json.dumps([SUITE, PACKAGES, SKIP_STDLIB, "no-abs-links"])
                            .encode()).hexdigest()
    archive = cache / "python" / f"{key}-{recipe[:8]}.tar.gz"
    if archive.is_file() and not refresh:
        data = archive.read_bytes()
        info = _read_info(data)
        packages = {str(k): str(v) for k, v in info["packages"].items()}
        return Runtime(key, archive, str(info["python"]), packages,
                       hashlib.sha256(data).hexdigest())
    LOG.info("fetching Debian's Python %s for %s", PYTHON, key)
    debs = fetch_debs(key, cache / "python")
    return build_archive(debs, archive, key)


def _read_info(data: bytes) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        fh = tar.extractfile(INFO_NAME)
        if fh is None:
            raise UsbError(f"runtime archive without {INFO_NAME}")
        info: dict[str, Any] = json.loads(fh.read())
        return info
