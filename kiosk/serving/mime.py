"""Content types for everything a JupyterLite bundle holds.

``application/wasm`` matters: browsers only compile WebAssembly while it streams in
when the type is right. Text types carry ``charset=utf-8``.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".cjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".ipynb": "application/x-ipynb+json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".bz2": "application/x-bzip2",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".py": "text/x-python; charset=utf-8",
    ".xml": "application/xml",
    ".webmanifest": "application/manifest+json",
    ".data": "application/octet-stream",
    ".so": "application/octet-stream",
}

DEFAULT = "application/octet-stream"


def content_type_for(path: str) -> str:
    """The Content-Type to send for a bundle path."""
    suffix = PurePosixPath(path).suffix.lower()
    known = _TYPES.get(suffix)
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path, strict=False)
    return guessed or DEFAULT


# Compressing these again gains nothing; the builder skips them too.
INCOMPRESSIBLE = frozenset({".whl", ".zip", ".png", ".jpg", ".jpeg", ".gif", ".webp",
                            ".woff", ".woff2", ".bz2", ".gz", ".br", ".ico"})
