"""The stick's folder layout, its name rules and its manifest ``kiosk-usb.json``.

Layout (every file is a plain file: FAT32 and exFAT have no symlinks and no
executable bit)::

    README.txt  start.bat  start.command  start.sh  kiosk-usb.json
    kiosk/launch.py                    the launcher's Python part (stdlib only)
    kiosk/bundles/current              the active bundle's name (a text file)
    kiosk/bundles/<name>/...           the bundle, copied as plain files
    kiosk/wheels/any/*.whl             pure-Python wheels, shared by every platform
    kiosk/wheels/<platform>/*.whl      compiled wheels, e.g. windows-x86_64
    kiosk/python/<platform>.tar.gz     a Python for Linux laptops without one (only with
                                       ``--with-python``; :mod:`kiosk.usb.runtime`)
    data/         the share store (made by the launcher; never in the manifest)
    venvs/        environments put on the stick (only when asked; never listed)
    installers/   Python installers the teacher adds (never listed)

``kiosk-usb.json`` lists every other file with its size and sha256, the platforms and
Python versions the wheels serve, and what the launcher needs to install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.bundle.manifest import sha256_file
from kiosk.errors import UsbError

MANIFEST_NAME = "kiosk-usb.json"
FORMAT = 1
#: folders the launcher and the teacher write to: not part of what was made
UNLISTED_DIRS = ("data", "venvs", "installers")
#: what operating systems put on sticks by themselves (macOS ._ files, Windows folders)
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", ".Spotlight-V100", ".Trashes",
               ".fseventsd", ".TemporaryItems", "System Volume Information", "$RECYCLE.BIN"}
#: longest relative path: Windows' MAX_PATH (260) minus "E:\" and some room
MAX_PATH_CHARS = 240
MAX_NAME_CHARS = 255
_FAT_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_DOS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                *(f"LPT{i}" for i in range(1, 10))}


def name_problems(rel: str) -> list[str]:
    """Why a relative path (``/``-separated) cannot be stored on FAT32/exFAT as is."""
    problems = []
    if len(rel) > MAX_PATH_CHARS:
        problems.append(f"path longer than {MAX_PATH_CHARS} characters")
    for part in rel.split("/"):
        if not part:
            problems.append("empty path component")
            continue
        if len(part.encode("utf-16-le")) // 2 > MAX_NAME_CHARS:
            problems.append(f"name {part[:40]}... longer than {MAX_NAME_CHARS} characters")
        bad = sorted(set(_FAT_FORBIDDEN.findall(part)))
        if bad:
            problems.append(f"name {part!r} has characters FAT rejects: {bad!r}")
        if part.endswith((".", " ")):
            problems.append(f"name {part!r} ends with a dot or a space")
        if part.split(".")[0].upper() in _DOS_DEVICES:
            problems.append(f"name {part!r} is a reserved Windows device name")
    return problems


def check_names(paths: list[str]) -> None:
    """Raise :class:`UsbError` if any path breaks a FAT rule or two differ only in case."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for rel in paths:
        problems += [f"{rel}: {p}" for p in name_problems(rel)]
        folded = rel.casefold()
        if folded in seen and seen[folded] != rel:
            problems.append(f"{rel}: same name as {seen[folded]} on a case-insensitive stick")
        seen.setdefault(folded, rel)
    if problems:
        shown = "\n  ".join(problems[:20])
        raise UsbError(f"{len(problems)} file name(s) cannot go on a FAT stick:\n  {shown}")


def plain_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every file under ``folder`` as (relative ``/`` path, path); symlinks are errors."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        base = Path(root)
        for name in [*dirs, *files]:
            if (base / name).is_symlink():
                raise UsbError(f"{base / name} is a symlink: a FAT stick cannot hold it")
        for name in sorted(files):
            path = base / name
            yield path.relative_to(folder).as_posix(), path


def is_unlisted(rel: str) -> bool:
    """True for paths that ``kiosk usb verify`` ignores (run-time data, OS junk)."""
    parts = rel.split("/")
    if parts[0] in UNLISTED_DIRS or rel == MANIFEST_NAME:
        return True
    return any(p in _JUNK_NAMES or p.startswith("._") for p in parts)


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the stick: its source (a file or text) and its hash."""

    rel: str
    size: int
    sha256: str
    source: Path | None = None
    text: bytes | None = None


def write_stick_files(dest: Path, sources: Mapping[str, Path], texts: Mapping[str, bytes],
                      ) -> dict[str, Entry]:
    """Copy ``sources`` and write ``texts`` under ``dest``; remove what is no longer made.

    A file whose size and hash already match is left alone (a re-made stick is quick).
    Run-time folders (``data``, ``venvs``, ``installers``) are never touched.
    """
    import hashlib

    entries: dict[str, Entry] = {}
    for rel, src in sources.items():
        entries[rel] = Entry(rel, src.stat().st_size, sha256_file(src), source=src)
    for rel, data in texts.items():
        entries[rel] = Entry(rel, len(data), hashlib.sha256(data).hexdigest(), text=data)
    check_names(sorted(entries))
    dest.mkdir(parents=True, exist_ok=True)
    existing = {rel: path for rel, path in plain_files(dest) if not is_unlisted(rel)}
    for rel, path in existing.items():
        if rel not in entries:
            path.unlink()
    for rel, entry in sorted(entries.items()):
        target = dest / rel
        old = existing.get(rel)
        if old is not None and old.stat().st_size == entry.size \
                and sha256_file(old) == entry.sha256:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        if entry.source is not None:
            shutil.copyfile(entry.source, tmp)
        else:
            tmp.write_bytes(entry.text or b"")
        tmp.replace(target)
    _remove_empty_dirs(dest)
    return entries


def _remove_empty_dirs(dest: Path) -> None:
    for root, dirs, _files in os.walk(dest, topdown=False):
        for name in dirs:
            path = Path(root) / name
            rel = path.relative_to(dest).as_posix()
            if not is_unlisted(rel) and not any(path.iterdir()):
                path.rmdir()


def manifest_json(meta: Mapping[str, Any], entries: Mapping[str, Entry]) -> bytes:
    """The bytes of ``kiosk-usb.json``: ``meta`` plus every file's size and sha256."""
    doc = {"format": FORMAT, **meta,
           "files": {rel: {"size": e.size, "sha256": e.sha256}
                     for rel, e in sorted(entries.items())}}
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def read_stick_manifest(dest: Path) -> dict[str, Any]:
    """Read and check the shape of ``<dest>/kiosk-usb.json``."""
    path = dest / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsbError(f"{dest} has no {MANIFEST_NAME}: it is not a kiosk stick "
                       "(make one with 'kiosk usb make')") from None
    except (OSError, ValueError) as exc:
        raise UsbError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or not isinstance(data.get("files"), dict):
        raise UsbError(f"{path}: not a kiosk stick manifest of format {FORMAT}")
    return data
