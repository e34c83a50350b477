"""The Pyodide part of a bundle: the official lock, the packages' closure, hash checks.

A bundle ships the Pyodide runtime and only the packages its profile asks for (plus
their dependencies, the *closure*). Every file that claims to be an official Pyodide
build must be byte-identical to it: its sha256 is checked against the official
``pyodide-lock.json`` of the same Pyodide version (the one in the npm package
``pyodide``), and any mismatch stops the build naming the file. Pure-Python wheels
taken from PyPI instead are allowed; the shipped lock is then rewritten to their
hashes, and entries with no shipped file are dropped, so that Pyodide (which checks
every download against the lock) never asks for something the kiosk does not have.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.bundle.manifest import sha256_file
from kiosk.errors import BundleError

LOCK_NAME = "pyodide-lock.json"
#: the runtime files a bundle needs, by entry point (0.2x: pyodide.js, 314+: pyodide.mjs)
RUNTIME_FILES = ("pyodide.mjs", "pyodide.js", "pyodide.asm.js", "pyodide.asm.mjs",
                 "pyodide.asm.wasm", "python_stdlib.zip", "pyodide.asm.data")
REQUIRED_RUNTIME = ("pyodide.mjs", "pyodide.asm.wasm", "python_stdlib.zip")

_NORMALIZE = re.compile(r"[-_.]+")
_PURE_WHEEL = re.compile(r".*-py(2\.py)?3-none-any\.whl$")


def normalize(name: str) -> str:
    """PEP 503 name: ``Prompt_Toolkit`` and ``prompt-toolkit`` are the same package."""
    return _NORMALIZE.sub("-", name).lower()


def is_pure_wheel(file_name: str) -> bool:
    """Whether a file name is a pure-Python (``py3-none-any``) wheel."""
    return bool(_PURE_WHEEL.fullmatch(file_name))


@dataclass(frozen=True, slots=True)
class Lock:
    """A decoded ``pyodide-lock.json`` with its packages keyed by normalized name."""

    data: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> Lock:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundleError(f"cannot read the Pyodide lock {path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("packages"), dict):
            raise BundleError(f"{path} is not a pyodide-lock.json (no 'packages')")
        return cls(data)

    @property
    def info(self) -> dict[str, Any]:
        info = self.data.get("info", {})
        return dict(info) if isinstance(info, dict) else {}

    @property
    def version(self) -> str:
        """The Pyodide version, or "" (the 314.x locks no longer say it)."""
        return str(self.info.get("version", ""))

    @property
    def label(self) -> str:
        """How to name this build in a message: its version, else its Python version."""
        return self.version or f"(Python {self.python})"

    def same_build(self, other: Lock) -> bool:
        """Whether two locks describe the same Pyodide build (version or platform info)."""
        if self.version and other.version:
            return self.version == other.version
        keys = ("abi_version", "platform", "python", "arch")
        return all(self.info.get(k) == other.info.get(k) for k in keys)

    @property
    def python(self) -> str:
        return str(self.info.get("python", "?"))

    @property
    def packages(self) -> dict[str, dict[str, Any]]:
        return {normalize(k): v for k, v in self.data["packages"].items()}

    def by_file(self) -> dict[str, dict[str, Any]]:
        """Lock entries keyed by their ``file_name``."""
        return {str(v["file_name"]): v for v in self.data["packages"].values()}

    def closure(self, roots: Iterable[str]) -> list[str]:
        """The roots and everything they depend on (normalized names, sorted)."""
        packages = self.packages
        seen: set[str] = set()
        todo = [normalize(r) for r in roots]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            if name not in packages:
                raise BundleError(f"package {name!r} is not in the Pyodide lock ({self.info})")
            seen.add(name)
            todo.extend(normalize(d) for d in packages[name].get("depends", []))
        return sorted(seen)


def check_official(files: Mapping[str, Path], official: Lock) -> None:
    """Raise :class:`BundleError` naming the first file whose sha256 is not the official one.

    ``files`` maps lock file names to the local files that claim to be those builds.
    """
    expected = official.by_file()
    for name, path in sorted(files.items()):
        entry = expected.get(name)
        if entry is None:
            raise BundleError(f"{name} is not a file of the official Pyodide {official.label} "
                              "lock; refusing to ship it as an official package")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise BundleError(
                f"{name}: sha256 {actual[:16]}… differs from the official Pyodide "
                f"{official.label} lock ({str(entry['sha256'])[:16]}…); the file is not "
                "the official build (source: " + str(path) + ")")


@dataclass(frozen=True, slots=True)
class ExtraWheel:
    """A pure-Python wheel from PyPI to list in the shipped lock."""

    name: str
    version: str
    file_name: str
    sha256: str
    depends: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()


def wheel_name_version(file_name: str) -> tuple[str, str]:
    """``comm-0.2.2-py3-none-any.whl`` → (``comm``, ``0.2.2``)."""
    parts = file_name.split("-")
    if len(parts) < 5 or not file_name.endswith(".whl"):
        raise BundleError(f"{file_name} is not a wheel file name")
    return normalize(parts[0]), parts[1]


def rewrite_lock(official: Lock, shipped: Mapping[str, str],
                 extra: Iterable[ExtraWheel] = ()) -> dict[str, Any]:
    """The lock a bundle ships.

    ``shipped`` maps every package file the bundle carries to its sha256. Entries whose
    file is shipped keep (or get) that hash; an :class:`ExtraWheel` replaces the entry
    of the same name (or adds one); entries with no shipped file are dropped.
    """
    data = copy.deepcopy(official.data)
    packages: dict[str, Any] = data["packages"]
    for wheel in extra:
        key = next((k for k in packages if normalize(k) == wheel.name), wheel.name)
        old = packages.get(key, {})
        packages[key] = {
            **old,
            "name": old.get("name", wheel.name),
            "version": wheel.version,
            "file_name": wheel.file_name,
            "sha256": wheel.sha256,
            "install_dir": "site",
            "package_type": "package",
            "imports": list(old.get("imports", wheel.imports)),
            "depends": list(old.get("depends", wheel.depends)),
            "unvendored_tests": False,
        }
    kept = {}
    for key, entry in packages.items():
        sha = shipped.get(str(entry["file_name"]))
        if sha is None:
            continue
        kept[key] = {**entry, "sha256": sha}
    names = {normalize(k) for k in kept}
    for key, entry in kept.items():
        missing = [d for d in entry.get("depends", []) if normalize(d) not in names]
        if missing:
            raise BundleError(f"the shipped lock would be inconsistent: {key} depends on "
                              f"{', '.join(missing)}, which the bundle does not carry")
    data["packages"] = dict(sorted(kept.items()))
    return data


def lock_problems(shipped: Lock, file_hashes: Mapping[str, str],
                  official: Mapping[str, str], from_pypi: Mapping[str, str],
                  built: Mapping[str, str] | None = None) -> list[str]:
    """Problems of a bundle's shipped lock (empty: good); messages name the file.

    ``file_hashes`` maps the file names present in the Pyodide folder to their sha256;
    ``official`` the official sha256 of each file claimed to be an official build, and
    ``from_pypi`` the PyPI wheels the bundle declares instead. Every lock entry needs its
    file with the listed hash, and every file is either official (same hash as the
    official lock) or a declared pure-Python wheel. ``built`` names the pure-Python
    wheels the builder made itself (matplotlib's font cache), with their sha256.
    """
    built = built or {}
    problems: list[str] = []
    for entry in shipped.data["packages"].values():
        name = str(entry["file_name"])
        actual = file_hashes.get(name)
        if actual is None:
            problems.append(f"{name}: listed in {LOCK_NAME} but missing")
            continue
        if actual != entry["sha256"]:
            problems.append(f"{name}: sha256 differs from the one in the shipped {LOCK_NAME}")
        if name in built:
            if not is_pure_wheel(name):
                problems.append(f"{name}: built by the kiosk but not pure Python")
            elif built[name] != actual:
                problems.append(f"{name}: sha256 differs from the wheel the build made")
        elif name in from_pypi:
            if not is_pure_wheel(name):
                problems.append(f"{name}: declared as a PyPI wheel but not pure Python")
            elif from_pypi[name] != actual:
                problems.append(f"{name}: sha256 differs from the PyPI wheel the build used")
        elif name not in official:
            problems.append(f"{name}: neither an official Pyodide file nor a declared "
                            "PyPI wheel")
        elif official[name] != actual:
            problems.append(f"{name}: sha256 differs from the official Pyodide lock "
                            "(not the official build)")
    return problems
