"""One file that carries a built kiosk bundle to another machine (``kiosk bundle pack|unpack``).

A Raspberry Pi should not need Node.js: the bundle is built on a laptop, packed into
one uncompressed tar file (its files already carry their ``.br``/``.gz`` variants), and
unpacked into the Pi's bundles directory. The archive holds exactly one top folder, the
bundle directory under its own name, with ``kiosk-bundle.json`` in it.

Unpacking trusts nothing in the file: only regular files and folders are taken (no
links, devices, absolute names or ``..``), modes are normalised (0644/0755), the bundle
is extracted into a hidden temporary folder next to the others, checked with
:func:`kiosk.bundle.verify.verify_full`, and only then renamed into place. A bundle of
the same name that is already there is kept when it is identical and refused otherwise,
so nothing built or served is ever overwritten.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kiosk.bundle import active
from kiosk.bundle.manifest import MANIFEST_NAME, read_manifest
from kiosk.bundle.verify import verify_full
from kiosk.errors import BundleError

#: the names :func:`kiosk.bundle.active.set_current` accepts
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")


@dataclass(frozen=True)
class Unpacked:
    """What :func:`unpack_bundle` did."""

    path: Path
    files: int
    already_there: bool
    activated: bool


def pack_bundle(bundle_dir: Path, dest: Path) -> int:
    """Write ``bundle_dir`` (verified first) into the tar file ``dest``; return its file count.

    The file is written next to ``dest`` under a temporary name and renamed at the end,
    so a full stick or an interrupted copy never leaves a truncated archive behind.
    """
    problems = verify_full(bundle_dir)
    if problems:
        raise BundleError(f"{bundle_dir} fails verification ({problems[0]}); rebuild it "
                          "('make bundle') before packing it")
    tmp = dest.with_name(f".{dest.name}.tmp")
    count = 0
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(bundle_dir.rglob("*")):
                if path.is_symlink() or not (path.is_file() or path.is_dir()):
                    raise BundleError(f"{path}: not a plain file; a bundle holds only files")
                tar.add(path, arcname=f"{bundle_dir.name}/{path.relative_to(bundle_dir)}",
                        recursive=False)
                count += path.is_file()
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BundleError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    return count


def _checked_members(tar: tarfile.TarFile, source: Path) -> tuple[str, list[tarfile.TarInfo]]:
    """The archive's bundle name and members, refusing anything but plain files/folders."""
    members = tar.getmembers()
    tops = {PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts}
    if len(tops) != 1:
        raise BundleError(f"{source}: not a kiosk bundle archive (expected one top folder, "
                          f"found {len(tops)})")
    name = tops.pop()
    if not _NAME_RE.fullmatch(name):
        raise BundleError(f"{source}: invalid bundle name {name!r}")
    for m in members:
        parts = PurePosixPath(m.name).parts
        if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
            raise BundleError(f"{source}: refusing the entry {m.name!r} (only plain files "
                              "inside the bundle folder are allowed)")
    if not any(m.isfile() and m.name == f"{name}/{MANIFEST_NAME}" for m in members):
        raise BundleError(f"{source}: no {MANIFEST_NAME} in {name}/: not a kiosk bundle "
                          "archive ('kiosk bundle pack' makes them)")
    return name, members


def _same_bundle(a: Path, b: Path) -> bool:
    try:
        return read_manifest(a) == read_manifest(b)
    except BundleError:
        return False


def unpack_bundle(source: Path, bundles_dir: Path, *, activate: bool = True) -> Unpacked:
    """Install the bundle packed in ``source`` into ``bundles_dir`` (verified before use)."""
    bundles_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(source, "r:*") as tar:
            target, files, already = _extract(tar, source, bundles_dir)
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"{source}: cannot unpack it into {bundles_dir} ({exc})") from exc
    if activate:
        active.set_current(bundles_dir, target.name)
    return Unpacked(target, files, already, activate)


def _extract(tar: tarfile.TarFile, source: Path, bundles_dir: Path) -> tuple[Path, int, bool]:
    """Extract into a hidden folder, verify, rename into place; (path, files, was there)."""
    name, members = _checked_members(tar, source)
    target = bundles_dir / name
    tmp = bundles_dir / f".unpack-{name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    try:
        files = 0
        for m in members:
            rel = PurePosixPath(m.name).relative_to(name)
            out = tmp.joinpath(*rel.parts)
            if m.isdir():
                out.mkdir(mode=0o755, parents=True, exist_ok=True)
                continue
            out.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            reader = tar.extractfile(m)
            if reader is None:
                raise BundleError(f"{source}: cannot read {m.name!r}")
            with reader, out.open("wb") as fh:
                shutil.copyfileobj(reader, fh, 1 << 20)
            out.chmod(0o644)
            files += 1
        for folder in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
        problems = verify_full(tmp)
        if problems:
            raise BundleError(f"{source}: the bundle fails verification ({problems[0]}; "
                              f"{len(problems)} problem(s)); nothing was installed")
        already = target.exists()
        if already and not _same_bundle(tmp, target):
            raise BundleError(f"{target} exists and differs from the bundle in {source}; "
                              "nothing was changed")
        if not already:
            os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target, files, already
