"""An in-memory index of the active bundle: what the static server may send, and how.

Built once per bundle (in a thread: it hashes and reads files), then every request
is a dictionary lookup. Only paths listed in the bundle's manifest are in the
index, so a request can never name a file outside the bundle, whatever its
spelling; the filesystem is touched only to open a file the index already knows.

HTML pages are kept in memory with the polyfill inserted (and compressed forms made
once); ``jupyter-lite.json`` files are kept parsed, because each request rewrites
them for the Host it came by.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli

from kiosk.bundle.manifest import ENCODINGS, Manifest, read_manifest, verify_bundle
from kiosk.csp import inline_script_hashes, script_hash
from kiosk.errors import BundleError
from kiosk.serving import pages
from kiosk.serving.mime import content_type_for

_LOGGER = logging.getLogger(__name__)

LITE_CONFIG_NAME = "jupyter-lite.json"

# Content-hashed names (webpack chunks like 1031.b91a70b.js, remoteEntry.<hash>.js)
# never change content under the same URL; neither do wheels, whose names carry the version.
_HASHED_RE = re.compile(r"[.-][0-9a-f]{7,}\.(?:js|css|mjs|wasm|woff2?|ttf|svg|png)$")


def is_immutable(rel_path: str) -> bool:
    """Whether a bundle file may be cached for a year without revalidation."""
    name = rel_path.rsplit("/", 1)[-1]
    return bool(_HASHED_RE.search(name)) or name.endswith(".whl")


@dataclass(frozen=True, slots=True)
class StoredForm:
    """One stored representation of a file: on disk (``path``) or in memory (``body``)."""

    size: int
    etag: str
    encoding: str | None
    path: Path | None = None
    body: bytes | None = None


@dataclass(slots=True)
class Entry:
    """A servable path of the bundle."""

    rel_path: str
    content_type: str
    mtime: float
    immutable: bool
    forms: dict[str | None, StoredForm]  # None: identity
    csp: str | None = None
    lite_config: dict[str, Any] | None = None

    @property
    def encodings(self) -> list[str]:
        return [e for e in self.forms if e is not None]


@dataclass(slots=True)
class BundleIndex:
    """Every servable path of one bundle, keyed by its path relative to the root."""

    root: Path
    manifest: Manifest
    entries: dict[str, Entry] = field(default_factory=dict)
    directories: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.root.name

    def lookup(self, rel_path: str) -> Entry | None:
        return self.entries.get(rel_path)


def _etag(sha256: str, encoding: str | None) -> str:
    suffix = "" if encoding is None else f"-{encoding}"
    return f'"{sha256[:32]}{suffix}"'


def _memory_forms(body: bytes) -> dict[str | None, StoredForm]:
    forms: dict[str | None, StoredForm] = {
        None: StoredForm(len(body), _etag(hashlib.sha256(body).hexdigest(), None), None,
                         body=body)
    }
    for encoding, packed in (("br", brotli.compress(body, quality=11)),
                             ("gzip", gzip.compress(body, compresslevel=9, mtime=0))):
        if len(packed) <= 0.9 * len(body):
            digest = hashlib.sha256(packed).hexdigest()
            forms[encoding] = StoredForm(len(packed), _etag(digest, encoding), encoding,
                                         body=packed)
    return forms


def build_index(bundle_dir: Path, *, verify: bool = True, head_extra: str = "") -> BundleIndex:
    """Read (and by default verify) a bundle and index it. Blocking: run in a thread.

    ``head_extra`` is inserted in every page right after the polyfill.
    """
    manifest = read_manifest(bundle_dir)
    if verify:
        problems = verify_bundle(bundle_dir, manifest)
        if problems:
            listed = "; ".join(str(p) for p in problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise BundleError(
                f"bundle {bundle_dir} fails verification: {listed}{more}. "
                f"Rebuild it ('make bundle') or activate another ('kiosk bundle use NAME')."
            )
    index = BundleIndex(bundle_dir, manifest)
    scripts = pages.script_paths(list(manifest.files))
    for rel, record in manifest.files.items():
        path = bundle_dir / rel
        mtime = path.stat().st_mtime
        ctype = content_type_for(rel)
        entry = Entry(rel, ctype, mtime, is_immutable(rel), {})
        if rel.endswith((".html", ".htm")):
            html = path.read_text(encoding="utf-8")
            served = pages.inject_polyfill(html, head_extra)
            entry.forms = _memory_forms(served.encode("utf-8"))
            entry.csp = pages.bundle_csp([script_hash(pages.POLYFILL_JS),
                                          *inline_script_hashes(html)], scripts)
        elif rel.rsplit("/", 1)[-1] == LITE_CONFIG_NAME:
            try:
                entry.lite_config = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise BundleError(f"{path} is not valid JSON: {exc}") from None
            entry.forms = {None: StoredForm(record.size, _etag(record.sha256, None), None,
                                            path=path)}
        else:
            entry.forms[None] = StoredForm(record.size, _etag(record.sha256, None), None,
                                           path=path)
            for encoding, variant in record.compressed.items():
                sibling = path.with_name(path.name + ENCODINGS[encoding])
                entry.forms[encoding] = StoredForm(variant.size,
                                                   _etag(variant.sha256, encoding),
                                                   encoding, path=sibling)
        if ctype.startswith(("text/html", "text/javascript")):
            entry.csp = entry.csp or pages.bundle_csp([], scripts)
        index.entries[rel] = entry
        parts = rel.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            index.directories.add("/".join(parts[:depth]))
    _LOGGER.info("bundle %s indexed: %d files, %.1f MiB", bundle_dir.name,
                 len(index.entries), manifest.total_bytes / 1048576)
    return index
