"""matplotlib's font cache, built at bundle time with the bundle's own Pyodide.

Pyodide's matplotlib reads its font list from ``matplotlib/fontlist.json`` beside
``font_manager.py``; the official wheel does not carry it, so a student's first plot spends
seconds building it and prints "Matplotlib is building the font cache" into the notebook.
The builder runs the very Pyodide it ships under Node.js (``fontcache.js``), imports
matplotlib there, and packs the resulting file into a tiny pure-Python wheel
(``kiosk-matplotlib-fontcache``) whose only content is ``matplotlib/fontlist.json``.

The official matplotlib wheel carries a stale ``fontlist.json`` (made by a newer matplotlib,
so 3.8 rejects it), so ours must be unpacked *after* matplotlib. Pyodide installs a package
only once its dependencies are installed, so in the shipped lock the cache wheel depends on
matplotlib and takes over matplotlib's import names: ``import matplotlib`` in a cell (the
kernel loads packages by the names a cell imports) loads the cache wheel, which brings
matplotlib first. A second run, importing the way a cell does, checks that the warning is
gone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.bundle.purewheel import write_pure_wheel
from kiosk.errors import BundleError

SCRIPT = Path(__file__).with_name("fontcache.js")
PACKAGE = "kiosk-matplotlib-fontcache"
#: Fixed timestamp for every zip entry, so the same cache gives the same wheel (and sha256).
_TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class FontCacheWheel:
    """The built wheel and what it was made from."""

    path: Path
    version: str        # matplotlib's version (the cache is only valid for it)
    fonts: int
    build_seconds: float  # matplotlib's import time while it built the cache


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise BundleError("building matplotlib's font cache needs Node.js ('node'), which "
                          "also builds the kiosk extension: install nodejs")
    return node


def run_pyodide(mode: str, pyodide_dir: Path) -> dict[str, Any]:
    """Run ``fontcache.js`` (``make`` or ``verify``) on a Pyodide folder; its JSON answer."""
    try:
        proc = subprocess.run([_node(), str(SCRIPT), mode, str(pyodide_dir)],
                              capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BundleError(f"matplotlib's font cache: Pyodide under Node.js did not finish "
                          f"in {_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        raise BundleError(f"matplotlib's font cache: Pyodide under Node.js failed:\n"
                          f"{proc.stderr.strip()[-2000:]}")
    try:
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise BundleError("matplotlib's font cache: no answer from Pyodide under Node.js") \
            from None
    return result


def check_fontlist(text: str, font_manager_version: int) -> None:
    """Refuse a font list that is not matplotlib's, or that names files outside matplotlib."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"matplotlib's font cache is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("_version") != font_manager_version:
        raise BundleError("matplotlib's font cache has the wrong version")
    entries = [*data.get("ttflist", []), *data.get("afmlist", [])]
    if not entries:
        raise BundleError("matplotlib's font cache lists no fonts")
    for entry in entries:
        fname = entry.get("fname") if isinstance(entry, dict) else None
        # Relative names are inside matplotlib's own data folder (the same in a browser);
        # an absolute one would be a font of the build machine.
        if not isinstance(fname, str) or fname.startswith("/") or ".." in fname.split("/"):
            raise BundleError(f"matplotlib's font cache names a font outside matplotlib: "
                              f"{fname!r}")


def route_imports(lock_data: dict[str, Any]) -> dict[str, Any]:
    """Make ``import matplotlib`` load the cache wheel, which depends on matplotlib."""
    packages: dict[str, Any] = lock_data["packages"]
    mpl_key = next(k for k in packages if k.lower() == "matplotlib")
    ours = next(k for k in packages if k.lower().replace("_", "-") == PACKAGE)
    packages[ours] = {**packages[ours], "imports": list(packages[mpl_key].get("imports", [])),
                      "depends": [mpl_key]}
    packages[mpl_key] = {**packages[mpl_key], "imports": []}
    return lock_data


def wheel_version(file_name: str) -> str:
    """``kiosk_matplotlib_fontcache-3.8.4-py3-none-any.whl`` → ``3.8.4``."""
    return file_name.split("-")[1]


def write_wheel(out_dir: Path, version: str, fontlist: str) -> Path:
    """A deterministic pure-Python wheel holding ``matplotlib/fontlist.json``."""
    return write_pure_wheel(out_dir, PACKAGE, version,
                            "matplotlib's font cache, prebuilt for this Pyodide by the "
                            "classroom kiosk",
                            {"matplotlib/fontlist.json": fontlist.encode("utf-8")})


def make_wheel(pyodide_dir: Path, out_dir: Path) -> FontCacheWheel:
    """Build the font cache with the Pyodide in ``pyodide_dir``; the wheel in ``out_dir``."""
    made = run_pyodide("make", pyodide_dir)
    fontlist = made.get("fontlist")
    if not isinstance(fontlist, str):
        raise BundleError("matplotlib did not write its font cache under Pyodide "
                          f"(expected {made.get('cache_path')})")
    check_fontlist(fontlist, int(made["font_manager_version"]))
    path = write_wheel(out_dir, str(made["matplotlib"]), fontlist)
    return FontCacheWheel(path, str(made["matplotlib"]), int(made["fonts"]),
                          float(made["import_seconds"]))


def verify(pyodide_dir: Path) -> dict[str, Any]:
    """Load matplotlib through the shipped lock; fail if it still builds its font cache."""
    checked = run_pyodide("verify", pyodide_dir)
    if checked.get("warned") or not checked.get("fonts"):
        raise BundleError("matplotlib still builds its font cache with the prebuilt one "
                          f"in place:\n{checked.get('stderr', '')}{checked.get('log', '')}")
    return checked
