"""The built bundles in a bundles directory: list them, find one by name or profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.bundle.active import current_bundle
from kiosk.bundle.manifest import MANIFEST_NAME, Manifest, read_manifest
from kiosk.errors import BundleError


@dataclass(frozen=True, slots=True)
class BuiltBundle:
    """A directory of the bundles folder that holds a manifest."""

    name: str
    path: Path
    manifest: Manifest | None
    error: str | None
    active: bool


def built_bundles(bundles_dir: Path) -> list[BuiltBundle]:
    """Every built bundle (oldest first); a broken manifest is reported, not raised."""
    if not bundles_dir.is_dir():
        return []
    try:
        current = current_bundle(bundles_dir)
    except BundleError:
        current = None
    found = []
    for path in sorted(bundles_dir.iterdir()):
        if path.name.startswith(".") or not (path / MANIFEST_NAME).is_file():
            continue
        try:
            manifest: Manifest | None = read_manifest(path)
            error = None
        except BundleError as exc:
            manifest, error = None, exc.message
        found.append(BuiltBundle(path.name, path, manifest, error,
                                 current is not None and current.name == path.name))
    return sorted(found, key=lambda b: (b.manifest.built_at if b.manifest else "", b.name))


def resolve(bundles_dir: Path, name: str) -> BuiltBundle:
    """A bundle by directory name, or the newest build of a profile."""
    bundles = built_bundles(bundles_dir)
    for bundle in bundles:
        if bundle.name == name:
            return bundle
    of_profile = [b for b in bundles if b.manifest is not None and b.manifest.profile == name]
    if of_profile:
        return of_profile[-1]
    known = ", ".join(b.name for b in bundles) or "none"
    raise BundleError(f"no built bundle or profile named {name!r} in {bundles_dir} "
                      f"(built: {known}); build one with 'kiosk bundle build --profile {name}'")


def prune(bundles_dir: Path, profile: str, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest builds of ``profile``, never the active one.

    Returns what was deleted. A kiosk serving an old build keeps it: only inactive
    builds go, and a build is deleted only once it is no longer named by ``current``.
    """
    import shutil

    builds = [b for b in built_bundles(bundles_dir)
              if b.manifest is not None and b.manifest.profile == profile]
    doomed = [b for b in builds[: max(0, len(builds) - keep)] if not b.active]
    for bundle in doomed:
        shutil.rmtree(bundle.path)
    return [b.path for b in doomed]
