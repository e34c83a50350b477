"""A lighter kernel start: what a lesson never asks for is no longer sent before cell one.

jupyterlite-pyodide-kernel 0.6 installs a fixed list of packages before a kernel runs its
first cell: ``ssl`` (which brings ``openssl``, 1.9 MiB), ``sqlite3``, ``jedi`` (and
``parso``) with IPython and the kernel itself; the Pyodide lock adds ``sqlite3`` to IPython's
dependencies and ``fonttools`` to matplotlib's. None of them is needed to start or to run
a lesson, and the kernel has no setting for the list (its ``loadPyodideOptions.packages``
only moves entries into Pyodide's own start). So a recipe with ``[kernel] slim_start =
true`` gets, from the builder:

* the kernel's worker patched (:func:`patch_worker`): the start list without ssl, sqlite3
  and jedi, plus the kiosk's wheel ``kiosk-kernel-start``, imported just before
  ``pyodide_kernel`` (``kiosk/bundle/kiosk_kernel_start.py`` says what it does in the
  kernel). The exact list and import of the known kernel are matched in every copy of
  the worker code; anything else stops the build (:class:`BundleError`) instead of
  shipping an unpatched kernel;
* the shipped lock without those two dependencies (:func:`trim_lock`); every package
  stays in the lock, so a cell that imports ``ssl`` or ``sqlite3`` still gets it (the
  kernel loads what a cell imports before running it);
* the wheel ``kiosk-kernel-start`` (:func:`write_wheel`), which carries the module and the
  list of deferred pure-Python wheels (jedi, parso, fonttools) with their sha256, fetched
  on their first import.

Webpack names the kernel's chunks by a hash of their content, and the kiosk lets browsers
keep such files for a year without asking again: a patched chunk therefore gets a new
name (:func:`rename_by_content`), and so does the extension's ``remoteEntry`` that maps
chunk ids to names; ``package.json`` and ``jupyter-lite.json`` name the new entry. A
browser never mixes an unpatched worker with a slim lock or the reverse (a kiosk switched
back to an older bundle would otherwise hand a cached slim worker a lock without
``kiosk-kernel-start``, and the kernel would not start).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiosk.bundle.purewheel import write_pure_wheel
from kiosk.bundle.pyodide import is_pure_wheel, normalize
from kiosk.errors import BundleError

PACKAGE = "kiosk-kernel-start"
MODULE = "kiosk_kernel_start"
MODULE_SOURCE = Path(__file__).with_name("kiosk_kernel_start.py")
DEFERRED_FILE = "deferred.json"
#: where ``jupyter lite build`` puts the Pyodide kernel's code
WORKER_DIR = "extensions/@jupyterlite/pyodide-kernel-extension"
#: the start list of jupyterlite-pyodide-kernel 0.6.x, as its minified worker spells it
START_LIST = '["ssl","sqlite3","ipykernel","comm","pyodide_kernel","jedi","ipython"]'
SLIM_LIST = f'["ipykernel","comm","pyodide_kernel","ipython","{PACKAGE}"]'
#: the line the worker runs after installing the list, and ours before it
IMPORT = 'push("import pyodide_kernel")'
SLIM_IMPORT = f'push("import {MODULE}","import pyodide_kernel")'
#: lock dependencies dropped: package → the dependency it no longer pulls in at load
UNDEPEND = {"ipython": "sqlite3", "matplotlib": "fonttools"}
#: pure-Python packages fetched by their first import instead of at start or with matplotlib
DEFERRED = ("jedi", "parso", "fonttools")
#: fixed timestamp for every zip entry: the same sources give the same wheel (and sha256)


def patch_worker(site: Path) -> list[Path]:
    """Patch every copy of the kernel's start in ``site``; the files changed.

    Raises :class:`BundleError` when the known start list is not found, or when a file
    holds it without the import that follows it (another kernel version).
    """
    root = site / WORKER_DIR
    patched: list[Path] = []
    for path in sorted(root.rglob("*.js")) if root.is_dir() else []:
        text = path.read_text(encoding="utf-8")
        lists = text.count(START_LIST)
        if not lists:
            continue
        imports = text.count(IMPORT)
        if imports != lists:
            raise BundleError(
                f"{path.relative_to(site)}: the Pyodide kernel's start list appears {lists} "
                f"times but its `{IMPORT}` {imports} times; this is not the kernel "
                "kiosk/bundle/kernelstart.py knows how to slim")
        path.write_text(text.replace(START_LIST, SLIM_LIST).replace(IMPORT, SLIM_IMPORT),
                        encoding="utf-8")
        patched.append(path)
    if not patched:
        raise BundleError(
            f"the Pyodide kernel's start list {START_LIST} is not in {WORKER_DIR} (a "
            "jupyterlite-pyodide-kernel upgrade?): update kiosk/bundle/kernelstart.py for "
            "it, or remove `slim_start` from the recipe's [kernel] table")
    return rename_by_content(site, patched)


#: a webpack chunk named by its content hash: ``592.dfd0b9431bfb4edbbcd2.js``
_CHUNK = re.compile(r"(?P<id>[\w-]+)\.(?P<hash>[0-9a-f]{8,})\.js")
_ENTRY = re.compile(r"remoteEntry\.(?P<hash>[0-9a-f]{8,})\.js")
#: text files of a site that may name the kernel's remoteEntry
_NAMING_SUFFIXES = (".json", ".js", ".html")


def _content_hash(text: str, like: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:len(like)]


def _replace_exactly(text: str, old: str, new: str, where: Path) -> str:
    if old not in text:
        raise BundleError(f"{where}: expected to name {old!r}; cannot rename the patched "
                          "kernel files consistently")
    return text.replace(old, new)


def rename_by_content(site: Path, patched: list[Path]) -> list[Path]:
    """Give each patched chunk, and the ``remoteEntry`` naming them, a new content-hash name.

    Returns the chunks' new paths. Every reference found to an old name is rewritten;
    one that remains anywhere in the site stops the build.
    """
    static = site / WORKER_DIR / "static"
    entries = sorted(static.glob("remoteEntry.*.js"))
    entry_match = _ENTRY.fullmatch(entries[0].name) if len(entries) == 1 else None
    if entry_match is None:
        raise BundleError(f"{static}: expected one remoteEntry.<hash>.js, found "
                          f"{[p.name for p in entries]}")
    entry_text = entries[0].read_text(encoding="utf-8")
    renamed: list[Path] = []
    old_names: list[str] = []
    for path in patched:
        match = _CHUNK.fullmatch(path.name)
        if match is None or path.parent != static:
            raise BundleError(f"{path}: not a content-hashed chunk of {static}")
        chunk_id, old = match["id"], match["hash"]
        text = path.read_text(encoding="utf-8")
        new = _content_hash(text, old)
        license_old = static / f"{path.name}.LICENSE.txt"
        new_name = f"{chunk_id}.{new}.js"
        text = text.replace(old, new)  # its license comment and source-map line name it
        (static / new_name).write_text(text, encoding="utf-8")
        path.unlink()
        if license_old.is_file():
            license_old.rename(static / f"{new_name}.LICENSE.txt")
        entry_text = _replace_exactly(entry_text, f'{chunk_id}:"{old}"',
                                      f'{chunk_id}:"{new}"', entries[0])
        renamed.append(static / new_name)
        old_names.append(path.name)
    new_entry = f"remoteEntry.{_content_hash(entry_text, entry_match['hash'])}.js"
    (static / new_entry).write_text(entry_text, encoding="utf-8")
    entries[0].unlink()
    named = 0
    for path in sorted(site.rglob("*")):
        if path.is_file() and path.suffix in _NAMING_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            if entries[0].name in text:
                path.write_text(text.replace(entries[0].name, new_entry), encoding="utf-8")
                named += 1
    if not named:
        raise BundleError(f"nothing in the site names {entries[0].name}; cannot point the "
                          "kernel at its patched entry")
    _no_old_names(site, [*old_names, entries[0].name])
    return renamed


def _no_old_names(site: Path, names: list[str]) -> None:
    hashes = [m["hash"] for n in names if (m := _CHUNK.fullmatch(n) or _ENTRY.fullmatch(n))]
    for path in sorted(site.rglob("*")):
        if path.is_file() and path.suffix in _NAMING_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            left = [h for h in hashes if h in text]
            if left:
                raise BundleError(f"{path.relative_to(site)} still names the unpatched "
                                  f"kernel file(s) {left}")


def worker_problems(site: Path) -> list[str]:
    """Why the kernel of a built ``site`` would still install the full list (empty: slim)."""
    root = site / WORKER_DIR
    texts = {p: p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.js"))} \
        if root.is_dir() else {}
    problems = [f"{p.relative_to(site)} still installs {START_LIST}"
                for p, t in texts.items() if START_LIST in t]
    if not any(SLIM_LIST in t and SLIM_IMPORT in t for t in texts.values()):
        problems.append(f"no worker in {WORKER_DIR} starts {MODULE}")
    return problems


def trim_lock(lock_data: dict[str, Any]) -> dict[str, Any]:
    """Drop the :data:`UNDEPEND` dependencies from the lock's entries (in place; returned)."""
    packages: dict[str, Any] = lock_data["packages"]
    for key, entry in packages.items():
        dropped = UNDEPEND.get(normalize(key))
        if dropped is not None:
            entry["depends"] = [d for d in entry.get("depends", [])
                                if normalize(d) != dropped]
    return lock_data


def deferred_entries(lock_data: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Import name → the wheel that provides it, for each :data:`DEFERRED` package shipped."""
    out: dict[str, dict[str, str]] = {}
    for key, entry in lock_data["packages"].items():
        if normalize(key) not in DEFERRED:
            continue
        file_name = str(entry["file_name"])
        if not is_pure_wheel(file_name):
            raise BundleError(f"{file_name}: a deferred package must be a pure-Python wheel")
        for name in entry.get("imports", []):
            out[str(name)] = {"package": str(entry["name"]), "file_name": file_name,
                              "sha256": str(entry["sha256"])}
    return dict(sorted(out.items()))


def write_wheel(out_dir: Path, deferred: Mapping[str, Mapping[str, str]]) -> Path:
    """The wheel ``kiosk-kernel-start``: the module and its list of deferred wheels.

    Its version carries a hash of its content: browsers keep wheels for a year by name,
    so a changed wheel must have a new one.
    """
    content = {
        f"{MODULE}/__init__.py": MODULE_SOURCE.read_bytes(),
        f"{MODULE}/{DEFERRED_FILE}": (json.dumps(deferred, indent=1, sort_keys=True)
                                      + "\n").encode(),
    }
    digest = hashlib.sha256(b"".join(n.encode() + b"\0" + d for n, d in content.items()))
    version = f"1.{int(digest.hexdigest()[:8], 16)}"  # no "+": it goes into URLs
    return write_pure_wheel(out_dir, PACKAGE, version,
                            "the classroom kiosk's part of a kernel's start", content)


def wheel_version(file_name: str) -> str:
    """``kiosk_kernel_start-1.2882400018-py3-none-any.whl`` → ``1.2882400018``."""
    return file_name.split("-")[1]
