"""``kiosk usb make``: put the active bundle, the wheels and the launchers on a stick."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import kiosk
from kiosk.bundle.active import current_bundle
from kiosk.bundle.manifest import read_manifest, verify_bundle
from kiosk.errors import UsbError
from kiosk.usb import bootstrap, launchers, runtime
from kiosk.usb.layout import (
    MANIFEST_NAME,
    Entry,
    manifest_json,
    plain_files,
    read_stick_manifest,
    write_stick_files,
)
from kiosk.usb.platforms import PLATFORMS, PYTHON_VERSIONS, Platform
from kiosk.usb.wheels import (
    KIOSK_DIST,
    WheelSet,
    build_kiosk_wheel,
    fetch_all,
    fetch_pip_wheel,
    read_wheel,
    stick_paths,
)

LOG = logging.getLogger("kiosk.usb")


def default_cache_dir() -> Path:
    """Where downloaded wheels are kept between makes (``~/.cache/kiosk/usb``)."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "kiosk" / "usb"


def default_source_dir() -> Path | None:
    """The kiosk's source tree when it is installed from one (editable), else None."""
    root = Path(kiosk.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


@dataclass(frozen=True, slots=True)
class MakeOptions:
    """What ``kiosk usb make`` was asked to do."""

    dest: Path
    bundles_dir: Path
    platforms: tuple[Platform, ...] = PLATFORMS
    pythons: tuple[str, ...] = PYTHON_VERSIONS
    cache_dir: Path = field(default_factory=default_cache_dir)
    kiosk_wheel: Path | None = None
    source_dir: Path | None = None
    refresh: bool = False
    jobs: int = 4
    #: platform keys to carry a Python runtime for (``--with-python``; Linux only)
    with_python: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MakeReport:
    """What was written: sizes per part, the wheel sets (and skipped pairs), the time."""

    dest: Path
    entries: dict[str, Entry]
    sets: list[WheelSet]
    seconds: float

    def sizes(self) -> dict[str, int]:
        """Bytes per part: the bundle, ``wheels/any``, each platform, the rest."""
        out: dict[str, int] = {}
        for rel, entry in self.entries.items():
            parts = rel.split("/")
            if parts[:2] == ["kiosk", "wheels"]:
                part = "wheels/" + parts[2]
            elif parts[:2] == ["kiosk", "bundles"]:
                part = "bundle"
            elif parts[:2] == ["kiosk", "python"]:
                part = "python/" + parts[2].removesuffix(".tar.gz")
            else:
                part = "launchers, README, manifest"
            out[part] = out.get(part, 0) + entry.size
        return dict(sorted(out.items()))

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries.values())


def make_stick(options: MakeOptions) -> MakeReport:
    """Write a complete stick folder at ``options.dest`` (blocking, uses the network)."""
    started = time.monotonic()
    bundle = current_bundle(options.bundles_dir)
    if bundle is None:
        raise UsbError(f"no bundle is active in {options.bundles_dir}: run 'make bundle' "
                       "or pass --bundles-dir")
    problems = verify_bundle(bundle)
    if problems:
        raise UsbError(f"the active bundle {bundle} fails its check: {problems[0]} "
                       f"(and {len(problems) - 1} more)")
    profile = read_manifest(bundle).profile
    cache = options.cache_dir
    if options.kiosk_wheel is not None:
        kiosk_wheel = options.kiosk_wheel
    else:
        source = options.source_dir or default_source_dir()
        if source is None:
            raise UsbError("the kiosk is not installed from its source tree: pass "
                           "--kiosk-wheel FILE")
        LOG.info("building the kiosk wheel from %s", source)
        kiosk_wheel = build_kiosk_wheel(source, cache / "kiosk-wheel")
    kiosk_info = read_wheel(kiosk_wheel)
    if kiosk_info.name != KIOSK_DIST:
        raise UsbError(f"{kiosk_wheel.name} is not a wheel of {KIOSK_DIST}")
    pip_wheel = fetch_pip_wheel(cache)
    sets = fetch_all(options.platforms, options.pythons, kiosk_info, cache,
                     refresh=options.refresh, jobs=options.jobs)
    usable = [s for s in sets if s.skipped is None]
    if not usable:
        reasons = "; ".join(f"{s.platform.key} {s.python}: {s.skipped}" for s in sets[:3])
        raise UsbError(f"no wheel set could be made: {reasons}")

    sources = stick_paths(usable, kiosk_wheel, pip_wheel)
    runtimes = _runtimes(options, usable)
    for key, rt in runtimes.items():
        sources[runtime.stick_path(key)] = rt.archive
    described = {key: rt.describe() for key, rt in runtimes.items()}
    for rel, path in plain_files(bundle):
        sources[f"kiosk/bundles/{bundle.name}/{rel}"] = path
    pythons = sorted({s.python for s in usable}, key=_version_key)
    texts = {
        "kiosk/bundles/current": (bundle.name + "\n").encode(),
        "kiosk/launch.py": Path(bootstrap.__file__).read_bytes(),
        "start.sh": launchers.render_start_sh(pythons, described).encode(),
        "start.command": launchers.render_start_command(pythons).encode(),
        "start.bat": launchers.render_start_bat(pythons).encode(),
        "README.txt": launchers.render_readme(
            version=str(kiosk_info.version), bundle=bundle.name, pythons=pythons,
            platforms=[p.title for p in options.platforms
                       if any(s.platform == p for s in usable)],
            runtimes=[p.title for p in options.platforms if p.key in runtimes]).encode(),
    }
    stick_id = _previous_stick_id(options.dest) or bootstrap.new_stick_id()
    entries = write_stick_files(options.dest, sources, texts)
    platforms: dict[str, object] = {}
    for platform in options.platforms:
        mine = [s for s in sets if s.platform == platform]
        platforms[platform.key] = {
            **platform.describe(),
            "pythons": [s.python for s in mine if s.skipped is None],
            "skipped": {s.python: s.skipped for s in mine if s.skipped is not None},
        }
    meta = {
        "kiosk_dist": KIOSK_DIST,
        "kiosk_version": str(kiosk_info.version),
        "made_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "stick_id": stick_id,
        "bundle": {"name": bundle.name, "profile": profile},
        "pip_wheel": f"kiosk/wheels/any/{pip_wheel.name}",
        "pythons": pythons,
        "platforms": platforms,
        "runtimes": described,
    }
    tmp = options.dest / (MANIFEST_NAME + ".part")
    tmp.write_bytes(manifest_json(meta, entries))
    tmp.replace(options.dest / MANIFEST_NAME)
    return MakeReport(options.dest, entries, sets, time.monotonic() - started)


def _runtimes(options: MakeOptions, usable: list[WheelSet]) -> dict[str, runtime.Runtime]:
    """The Python runtimes asked for, each checked against the wheels the stick carries."""
    out: dict[str, runtime.Runtime] = {}
    for key in options.with_python:
        if key not in runtime.ARCHES:
            raise UsbError(f"--with-python {key}: a Python can only be shipped for "
                           + ", ".join(runtime.ARCHES) + " (see docs/usb.md)")
        if not any(s.platform.key == key and s.python == runtime.PYTHON for s in usable):
            raise UsbError(f"--with-python {key}: the stick must carry the {key} wheels "
                           f"for Python {runtime.PYTHON} (add it to --platforms and --python)")
        out[key] = runtime.make_runtime(key, options.cache_dir, refresh=options.refresh)
    return out


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _previous_stick_id(dest: Path) -> str | None:
    """Keep a re-made stick's id: laptops name its environments and data by it."""
    try:
        value = read_stick_manifest(dest).get("stick_id")
    except UsbError:
        return None
    return value if isinstance(value, str) and value.isalnum() else None


def parse_pythons(values: Sequence[str]) -> tuple[str, ...]:
    """Check ``--python`` values (``3.12``) and keep their order."""
    out = []
    for value in values:
        parts = value.split(".")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or parts[0] != "3" \
                or int(parts[1]) < 11:
            raise UsbError(f"--python {value!r}: expected a version like 3.12 (3.11 or newer)")
        out.append(value)
    return tuple(out)
