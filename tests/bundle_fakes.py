"""A tiny bundle shaped like the builder's output, for fast verification tests.

It has a root ``jupyter-lite.json`` with a local ``pyodideUrl``, a ``static/pyodide``
folder with a runtime stub, two "official" package files, one PyPI wheel and a lock,
and a manifest whose ``pyodide`` section records the official hashes, like a real one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from kiosk.bundle.compress import compress_file
from kiosk.bundle.manifest import Manifest, describe_files, write_manifest

KERNEL = "@jupyterlite/pyodide-kernel-extension:kernel"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PACKAGES = {
    "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl": b"official numpy build" * 50,
    "six-1.16.0-py2.py3-none-any.whl": b"official six build" * 50,
}
PYPI = {"comm-0.2.2-py3-none-any.whl": b"comm from pypi" * 50}


def official_lock() -> dict[str, Any]:
    """The 'official' lock of the fake Pyodide (all of its packages, with their hashes)."""
    return {
        "info": {"version": "0.27.7", "python": "3.12.7", "abi_version": "2024_0",
                 "platform": "emscripten_3_1_58", "arch": "wasm32"},
        "packages": {
            "numpy": {"name": "numpy", "version": "2.0.2", "depends": [],
                      "file_name": "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
                      "sha256": sha(PACKAGES["numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"]),
                      "imports": ["numpy"], "install_dir": "site", "package_type": "package"},
            "six": {"name": "six", "version": "1.16.0", "depends": [],
                    "file_name": "six-1.16.0-py2.py3-none-any.whl",
                    "sha256": sha(PACKAGES["six-1.16.0-py2.py3-none-any.whl"]),
                    "imports": ["six"], "install_dir": "site", "package_type": "package"},
            "pandas": {"name": "pandas", "version": "2.2.3", "depends": ["numpy", "six"],
                       "file_name": "pandas-2.2.3-cp312-cp312-pyodide_2024_0_wasm32.whl",
                       "sha256": "0" * 64, "imports": ["pandas"], "install_dir": "site",
                       "package_type": "package"},
        },
    }


def official_lock_path(root: Path) -> Path:
    """Where :func:`make_bundle` keeps the fake official lock (next to the bundle)."""
    return root.parent / "official-pyodide-lock.json"


def make_bundle(root: Path) -> Path:
    """Write the fake bundle under ``root`` (with manifest) and return its directory."""
    root.mkdir(parents=True)
    official_lock_path(root).write_text(json.dumps(official_lock()), encoding="utf-8")
    config = {"jupyter-config-data": {"litePluginSettings": {KERNEL: {
        "pyodideUrl": "./static/pyodide/pyodide.js", "disablePyPIFallback": True}}}}
    (root / "jupyter-lite.json").write_text(json.dumps(config), encoding="utf-8")
    (root / "lab").mkdir()
    (root / "lab" / "index.html").write_text(
        "<!doctype html><html><head><script src='../build/main.js'></script></head>"
        "<body>" + "kiosk " * 200 + "</body></html>", encoding="utf-8")
    (root / "build").mkdir()
    (root / "build" / "main.js").write_text("console.log('hello');\n" * 100, encoding="utf-8")
    pyo = root / "static" / "pyodide"
    pyo.mkdir(parents=True)
    (pyo / "pyodide.js").write_text("/* runtime */\n" * 100, encoding="utf-8")
    for name, data in {**PACKAGES, **PYPI}.items():
        (pyo / name).write_bytes(data)
    lock = official_lock()
    del lock["packages"]["pandas"]
    lock["packages"]["comm"] = {
        "name": "comm", "version": "0.2.2", "depends": [], "imports": ["comm"],
        "file_name": "comm-0.2.2-py3-none-any.whl",
        "sha256": sha(PYPI["comm-0.2.2-py3-none-any.whl"]),
        "install_dir": "site", "package_type": "package"}
    (pyo / "pyodide-lock.json").write_text(json.dumps(lock), encoding="utf-8")
    for path in [root / "lab" / "index.html", root / "build" / "main.js", pyo / "pyodide.js"]:
        compress_file(path)
    manifest = Manifest(
        profile="fake", built_at="2026-11-23T00:00:00+00:00",
        versions={"pyodide": "0.27.7"}, files=describe_files(root),
        extra={"pyodide": {
            "dir": "static/pyodide",
            "official_lock_sha256": sha(official_lock_path(root).read_bytes()),
            "official": {n: sha(d) for n, d in PACKAGES.items()},
            "from_pypi": {n: sha(d) for n, d in PYPI.items()},
        }})
    write_manifest(root, manifest)
    return root


def remanifest(root: Path) -> None:
    """Rewrite the manifest's file list after a change, keeping its other sections."""
    from kiosk.bundle.manifest import read_manifest

    old = read_manifest(root)
    write_manifest(root, Manifest(old.profile, old.built_at, old.versions,
                                  describe_files(root), old.extra))
