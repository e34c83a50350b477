"""Bundle recipes: ``bundles/<profile>/profile.toml`` and the files next to it.

A recipe folder holds::

    profile.toml               pinned versions and the packages to ship (read here)
    jupyter_lite_config.json   options for ``jupyter lite build``
    jupyter-lite.json          overrides merged into the site's runtime config
    content/                   starter content shown in the file browser

``profile.toml`` keys (all versions pinned):

- ``description``: one line for ``kiosk bundle list``.
- ``[versions]``: ``jupyterlite_core``, ``pyodide_kernel``, ``pyodide``.
- ``[build] requirements``: what the build virtualenv gets (pip specs, ``==`` pins).
- ``[packages] pyodide``: Pyodide packages to ship; their dependencies come along.
- ``[packages] pypi``: pure-Python wheels from PyPI added to the lock (``name==version``).
- ``[packages] official_from``: where the official package files come from when no
  ``--pyodide-archive`` is given: ``"pypi"`` (pure-Python only: the same versions from
  PyPI, lock rewritten) or ``"carrier"`` (a PyPI wheel that carries official files;
  ``carrier`` and ``carrier_path`` name it; every file is checked against the lock).
- ``[kernel] slim_start``: ``true`` sends less before a kernel's first cell (ssl, sqlite3,
  jedi and fontTools load when first imported; ``kiosk/bundle/kernelstart.py``).
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.bundle.translations import catalog_files
from kiosk.errors import BundleError

PROFILE_FILE = "profile.toml"
DEFAULT_PROFILE = "science"


def default_cache_dir() -> Path:
    """Downloads and build environments: ``$KIOSK_BUNDLE_CACHE``, else the user's cache.

    Outside the source tree on purpose: a fresh clone (CI, a second checkout) reuses
    what an earlier build downloaded.
    """
    explicit = os.environ.get("KIOSK_BUNDLE_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kiosk" / "bundles"


def default_recipes_dir() -> Path:
    """``bundles/`` of the source tree this package runs from, else ``./bundles``."""
    here = Path(__file__).resolve().parents[2] / "bundles"
    return here if here.is_dir() else Path.cwd() / "bundles"


@dataclass(frozen=True, slots=True)
class Profile:
    """One bundle recipe, read from its folder."""

    name: str
    folder: Path
    description: str
    jupyterlite_core: str
    pyodide_kernel: str
    pyodide: str
    requirements: tuple[str, ...]
    pyodide_packages: tuple[str, ...]
    pypi_wheels: tuple[str, ...]
    official_from: str
    carrier: str | None = None
    carrier_path: str | None = None
    #: ``[kernel] slim_start``: a lighter kernel start (kiosk/bundle/kernelstart.py)
    slim_kernel_start: bool = False

    @property
    def content_dir(self) -> Path:
        return self.folder / "content"


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BundleError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def load_profile(recipes_dir: Path, name: str) -> Profile:
    """Read and check the recipe ``recipes_dir/name``."""
    folder = recipes_dir / name
    path = folder / PROFILE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(list_profiles(recipes_dir)) or "none"
        raise BundleError(f"no bundle profile {name!r} in {recipes_dir} "
                          f"(known: {known})") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(f"{path}: {exc}") from None
    try:
        versions = data["versions"]
        packages = data.get("packages", {})
        official_from = str(packages.get("official_from", "pypi"))
        profile = Profile(
            name=name,
            folder=folder,
            description=str(data.get("description", "")),
            jupyterlite_core=str(versions["jupyterlite_core"]),
            pyodide_kernel=str(versions["pyodide_kernel"]),
            pyodide=str(versions["pyodide"]),
            requirements=_strings(data.get("build", {}), "requirements", str(path)),
            pyodide_packages=_strings(packages, "pyodide", str(path)),
            pypi_wheels=_strings(packages, "pypi", str(path)),
            official_from=official_from,
            carrier=packages.get("carrier"),
            carrier_path=packages.get("carrier_path"),
            slim_kernel_start=data.get("kernel", {}).get("slim_start", False),
        )
    except (KeyError, TypeError) as exc:
        raise BundleError(f"{path}: missing or bad key {exc}") from None
    if not isinstance(profile.slim_kernel_start, bool):
        raise BundleError(f"{path}: [kernel] slim_start must be true or false")
    if official_from not in {"pypi", "carrier"}:
        raise BundleError(f"{path}: official_from must be 'pypi' or 'carrier'")
    if official_from == "carrier" and not (profile.carrier and profile.carrier_path):
        raise BundleError(f"{path}: official_from = 'carrier' needs carrier and carrier_path")
    for spec in (*profile.requirements, *profile.pypi_wheels):
        if "==" not in spec:
            raise BundleError(f"{path}: {spec!r} is not pinned (use name==version)")
    return profile


def list_profiles(recipes_dir: Path) -> list[str]:
    """Names of the recipes under ``recipes_dir``."""
    if not recipes_dir.is_dir():
        return []
    return sorted(p.parent.name for p in recipes_dir.glob(f"*/{PROFILE_FILE}"))


def recipe_fingerprint(profile: Profile, extension_dir: Path | None = None) -> str:
    """sha256 over every file of the recipe folder (names and contents), in order.

    A build records it in its manifest (``recipe.sha256``); ``kiosk bundle build
    --if-missing`` only counts a build made from the same recipe, so a changed
    ``profile.toml`` (a package added), config file or starter notebook triggers a
    rebuild instead of serving the stale bundle. The kiosk extension the build includes
    (``extension_dir``) counts too, through its ``package.json``: it names the built
    entry file by a hash of its content, so a rebuilt extension changes it. Blocking
    (reads files).
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in profile.folder.rglob("*") if p.is_file()):
        rel = path.relative_to(profile.folder).as_posix()
        if any(part.startswith(".") or part == "__pycache__" for part in rel.split("/")):
            continue
        digest.update(rel.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    if extension_dir is not None and (extension_dir / "package.json").is_file():
        digest.update(b"extension\0")
        digest.update(hashlib.sha256((extension_dir / "package.json").read_bytes()).digest())
        # ... and so do its translations, which the build adds (kiosk/bundle/translations.py).
        for path in catalog_files():
            digest.update(path.parent.parent.name.encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
