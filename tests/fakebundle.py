"""A tiny JupyterLite-shaped bundle for tests: real files, real siblings, a real manifest."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import brotli

from kiosk.bundle.active import set_current
from kiosk.bundle.manifest import Manifest, describe_files, write_manifest

LAB_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>JupyterLite</title>
<script id="jupyter-config-data" type="application/json" data-jupyter-lite-root="..">{}</script>
<script>window.__inlineRan = (window.__inlineRan || 0) + 1;</script>
<script src="../build/main.0123456789abcdef0123.js"></script>
</head><body><div id="out"></div></body></html>
"""

MAIN_JS = ("window.__uuid = (self.crypto && self.crypto.randomUUID) ? "
           "self.crypto.randomUUID() : null;\n" + "// padding so compression pays\n" * 400)

ROOT_LITE = {"jupyter-lite-schema-version": 0,
             "jupyter-config-data": {"appName": "JupyterLite", "appVersion": "0.6.4",
                                     "sharing_service_api_url": "https://example.invalid/api"}}
LAB_LITE = {"jupyter-lite-schema-version": 0, "jupyter-config-data": {"appUrl": "./lab"}}


def _siblings(path: Path) -> None:
    data = path.read_bytes()
    path.with_name(path.name + ".br").write_bytes(brotli.compress(data, quality=11))
    path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, 9, mtime=0))


def make_bundle(bundles_dir: Path, name: str = "fake-1", *, activate: bool = True,
                outside: Path | None = None,
                extra: dict[str, bytes | str] | None = None) -> Path:
    """Write a fake bundle into bundles_dir/name (with manifest); optionally activate it.

    ``extra``: more files (path → content), e.g. other lesson notebooks under files/."""
    root = bundles_dir / name
    files: dict[str, bytes | str] = {
        "index.html": "<!doctype html><html><head><title>x</title></head><body>root</body></html>",
        "lab/index.html": LAB_HTML,
        "jupyter-lite.json": json.dumps(ROOT_LITE),
        "lab/jupyter-lite.json": json.dumps(LAB_LITE),
        "build/main.0123456789abcdef0123.js": MAIN_JS,
        "build/style.css": "body{color:#123}\n" * 200,
        "static/pyodide/pyodide.asm.wasm": b"\x00asm\x01\x00\x00\x00" + os.urandom(1000) * 200,
        "static/pyodide/pyodide.mjs": "export const x = 1;\n" * 300,
        "static/pyodide/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl": os.urandom(5000),
        "static/pyodide/python_stdlib.zip": os.urandom(3000),
        "build/fonts/font.woff2": os.urandom(1000),
        "build/icon.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        "files/welcome.ipynb": json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                           "nbformat_minor": 5}),
        "files/data.csv": "a,b\n1,2\n",
        "notebooks/index.html": "<!doctype html><html><head></head><body>nb</body></html>",
        **(extra or {}),
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    for rel in ("build/main.0123456789abcdef0123.js", "build/style.css",
                "static/pyodide/pyodide.asm.wasm", "static/pyodide/pyodide.mjs"):
        _siblings(root / rel)
    if outside is not None:
        (root / "files" / "escape.txt").symlink_to(outside)
    manifest = Manifest(profile="fake", built_at="2026-11-23T00:00:00Z",
                        versions={"jupyterlite_core": "0.6.4"}, files=describe_files(root))
    write_manifest(root, manifest)
    if activate:
        set_current(bundles_dir, name)
    return root
