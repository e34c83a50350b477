"""The bundle manifest, ``kiosk-bundle.json``: what a built bundle holds, with hashes.

The builder writes it; ``kiosk bundle verify`` and ``kiosk serve`` check a bundle
against it; the static server takes its sizes and sha256 values for ``ETag``s.
Compressed siblings (``x.js.br``, ``x.js.gz``) are listed under the file they
compress, never as files of their own. Paths use ``/`` and are relative to the
bundle root. This module does no I/O on import and never touches the event loop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.errors import BundleError

MANIFEST_NAME = "kiosk-bundle.json"
FORMAT = 1
ENCODINGS = {"br": ".br", "gzip": ".gz"}
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks (blocking: call it from a thread)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Variant:
    """One stored form of a file: the file itself, or a compressed sibling."""

    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A file of the bundle with its compressed siblings (keyed by encoding)."""

    path: str
    size: int
    sha256: str
    compressed: dict[str, Variant] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"size": self.size, "sha256": self.sha256}
        for encoding, variant in sorted(self.compressed.items()):
            out[encoding] = {"size": variant.size, "sha256": variant.sha256}
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """Everything ``kiosk-bundle.json`` says about a bundle."""

    profile: str
    built_at: str
    versions: dict[str, Any]
    files: dict[str, FileRecord]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "profile": self.profile,
            "built_at": self.built_at,
            "versions": self.versions,
            **self.extra,
            "files": {p: r.to_json() for p, r in sorted(self.files.items())},
        }

    @property
    def total_bytes(self) -> int:
        return sum(r.size for r in self.files.values())


def parse_manifest(data: Any, *, source: str = MANIFEST_NAME) -> Manifest:
    """Check the shape of a decoded manifest and build a :class:`Manifest`."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(f"{source}: not a kiosk bundle manifest of format {FORMAT}")
    try:
        files: dict[str, FileRecord] = {}
        for path, rec in data["files"].items():
            compressed = {
                enc: Variant(int(rec[enc]["size"]), str(rec[enc]["sha256"]))
                for enc in ENCODINGS
                if enc in rec
            }
            files[path] = FileRecord(path, int(rec["size"]), str(rec["sha256"]), compressed)
        known = {"format", "profile", "built_at", "versions", "files"}
        return Manifest(
            profile=str(data["profile"]),
            built_at=str(data["built_at"]),
            versions=dict(data["versions"]),
            files=files,
            extra={k: v for k, v in data.items() if k not in known},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"{source}: malformed manifest ({exc!r})") from None


def read_manifest(bundle_dir: Path) -> Manifest:
    """Read and parse ``kiosk-bundle.json`` of a bundle (blocking)."""
    path = bundle_dir / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(
            f"{bundle_dir} has no {MANIFEST_NAME}: it is not a built bundle "
            "(run 'kiosk bundle build' or 'make bundle')"
        ) from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: cannot read ({exc})") from None
    return parse_manifest(data, source=str(path))


def write_manifest(bundle_dir: Path, manifest: Manifest) -> Path:
    """Write the manifest atomically (blocking)."""
    path = bundle_dir / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.to_json(), indent=1, sort_keys=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return path


def iter_bundle_files(bundle_dir: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file of a bundle that the manifest must list, as (relpath, path).

    Compressed siblings and the manifest itself are skipped; so are symlinks, which
    a bundle must not contain.
    """
    for path in sorted(bundle_dir.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        rel = path.relative_to(bundle_dir).as_posix()
        if rel == MANIFEST_NAME or rel.endswith(".tmp"):
            continue
        if any(rel.endswith(ext) and (bundle_dir / rel[: -len(ext)]).is_file()
               for ext in ENCODINGS.values()):
            continue
        yield rel, path


def describe_files(bundle_dir: Path) -> dict[str, FileRecord]:
    """Hash every file of a bundle and its compressed siblings (blocking)."""
    files: dict[str, FileRecord] = {}
    for rel, path in iter_bundle_files(bundle_dir):
        compressed: dict[str, Variant] = {}
        for encoding, ext in ENCODINGS.items():
            sib = path.with_name(path.name + ext)
            if sib.is_file() and not sib.is_symlink():
                compressed[encoding] = Variant(sib.stat().st_size, sha256_file(sib))
        files[rel] = FileRecord(rel, path.stat().st_size, sha256_file(path), compressed)
    return files


@dataclass(frozen=True, slots=True)
class Problem:
    """One way a bundle differs from its manifest."""

    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def verify_bundle(bundle_dir: Path, manifest: Manifest | None = None) -> list[Problem]:
    """Compare a bundle with its manifest, byte for byte (blocking). Empty: all good.

    For a bundle made by ``kiosk bundle build`` (its manifest has a ``pyodide``
    section) this also runs :func:`kiosk.bundle.verify.content_problems`: no outside
    addresses, a local kernel configuration, official Pyodide package hashes.
    """
    manifest = manifest or read_manifest(bundle_dir)
    problems: list[Problem] = []
    on_disk = dict(iter_bundle_files(bundle_dir))
    for rel in sorted(set(on_disk) - set(manifest.files)):
        problems.append(Problem(rel, "present but not in the manifest"))
    for rel, rec in sorted(manifest.files.items()):
        path = on_disk.get(rel)
        if path is None:
            problems.append(Problem(rel, "missing"))
            continue
        if path.stat().st_size != rec.size or sha256_file(path) != rec.sha256:
            problems.append(Problem(rel, "content differs from the manifest (sha256)"))
        for encoding, variant in rec.compressed.items():
            sib = path.with_name(path.name + ENCODINGS[encoding])
            if not sib.is_file() or sib.is_symlink():
                problems.append(Problem(rel + ENCODINGS[encoding], "missing"))
            elif sib.stat().st_size != variant.size or sha256_file(sib) != variant.sha256:
                problems.append(Problem(rel + ENCODINGS[encoding],
                                        "content differs from the manifest (sha256)"))
    if not problems and "pyodide" in manifest.extra:
        # A bundle from 'kiosk bundle build': also check that it stays offline and that
        # its Pyodide packages are the official builds. Imported here because those
        # checks build on this module.
        from kiosk.bundle.verify import content_problems

        problems.extend(content_problems(bundle_dir, manifest))
    return problems
