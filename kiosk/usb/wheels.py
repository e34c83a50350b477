"""The stick's wheels: the kiosk's own, and every dependency per platform and Python.

``pip download --only-binary :all: --platform ... --python-version ...`` fetches a
wheel set for a platform the maker is not running on. Two things pip does not do are
done here:

* it evaluates environment markers (``pywin32; sys_platform == "win32"``) against
  the machine it runs on, so :func:`check_closure` walks the dependency graph with the
  *target's* marker values and any requirement pip left out is downloaded in a second
  round;
* it keeps no record of what it chose, so each (platform, Python) set is downloaded
  into its own cache folder with a ``resolved.json`` stamp: a second ``kiosk usb
  make`` with the same requirements reuses it without touching the network.

All of this is blocking work for an offline command; nothing here runs on the kiosk's
event loop.
"""

from __future__ import annotations

import email.parser
import importlib.util
import json
import logging
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from kiosk.errors import UsbError
from kiosk.usb.platforms import Platform

LOG = logging.getLogger("kiosk.usb")
STAMP_NAME = "resolved.json"
#: the kiosk's distribution name (pyproject.toml [project] name)
KIOSK_DIST = "jupyterlite-kiosk"
_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class WheelFile:
    """A wheel file with what its name and its METADATA say."""

    path: Path
    name: NormalizedName
    version: Version
    tags: frozenset[Tag]
    requires_python: SpecifierSet | None
    requires: tuple[Requirement, ...]

    @property
    def is_pure(self) -> bool:
        """True when the wheel runs on every platform (its platform tag is ``any``)."""
        return all(tag.platform == "any" for tag in self.tags)


def read_wheel(path: Path) -> WheelFile:
    """Parse a wheel's file name and its ``*.dist-info/METADATA`` (blocking)."""
    try:
        name, version, _build, tags = parse_wheel_filename(path.name)
        with zipfile.ZipFile(path) as zf:
            meta_name = next(n for n in zf.namelist()
                             if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            text = zf.read(meta_name).decode("utf-8", "replace")
    except (InvalidWheelFilename, zipfile.BadZipFile, StopIteration, OSError) as exc:
        raise UsbError(f"{path}: not a readable wheel ({exc})") from None
    meta = email.parser.Parser().parsestr(text, headersonly=True)
    requires: list[Requirement] = []
    for raw in meta.get_all("Requires-Dist") or []:
        try:
            requires.append(Requirement(raw))
        except InvalidRequirement as exc:
            raise UsbError(f"{path.name}: bad Requires-Dist {raw!r} ({exc})") from None
    rp = meta.get("Requires-Python")
    return WheelFile(path, name, version, frozenset(tags),
                     SpecifierSet(rp) if rp else None, tuple(requires))


def target_tags(platform: Platform, python: str) -> frozenset[Tag]:
    """Every wheel tag CPython ``python`` accepts on ``platform``."""
    version = tuple(int(part) for part in python.split("."))
    interpreter = "cp" + "".join(python.split("."))
    return frozenset([*cpython_tags(version, platforms=platform.tags),
                      *compatible_tags(version, interpreter, platform.tags)])


def without_marker(req: Requirement) -> str:
    """The requirement as text, its marker dropped (already evaluated for the target)."""
    copy = Requirement(str(req))
    copy.marker = None
    return str(copy)


@dataclass
class Closure:
    """Result of walking the dependency graph of a wheel set for one target."""

    chosen: dict[NormalizedName, WheelFile] = field(default_factory=dict)
    missing: list[Requirement] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_closure(wheels: Iterable[WheelFile], roots: Sequence[Requirement],
                  platform: Platform, python: str) -> Closure:
    """Can ``roots`` be installed from ``wheels`` alone on ``platform`` with ``python``?

    Picks, like pip, the newest compatible wheel that satisfies a requirement and
    follows its Requires-Dist whose markers hold on the target (extras included).
    ``problems`` is empty when the set is complete; ``missing`` lists the requirements
    no wheel satisfies.
    """
    env = platform.marker_env(python)
    tags = target_tags(platform, python)
    full = Version(python + ".0")
    usable: dict[NormalizedName, list[WheelFile]] = {}
    for wheel in wheels:
        if wheel.tags & tags and (wheel.requires_python is None
                                  or wheel.requires_python.contains(full, prereleases=True)):
            usable.setdefault(wheel.name, []).append(wheel)
    result = Closure()
    done_extras: dict[NormalizedName, set[str]] = {}
    queue: list[tuple[Requirement, str]] = [(req, "the kiosk") for req in roots]
    while queue:
        req, parent = queue.pop()
        name = canonicalize_name(req.name)
        found = result.chosen.get(name)
        if found is None:
            fits = [w for w in usable.get(name, [])
                    if req.specifier.contains(w.version, prereleases=True)]
            if not fits:
                result.missing.append(req)
                result.problems.append(
                    f"{req} (needed by {parent}): no wheel for {platform.title}, "
                    f"Python {python}")
                continue
            wheel = max(fits, key=lambda w: w.version)
            result.chosen[name] = wheel
        elif not req.specifier.contains(found.version, prereleases=True):
            result.problems.append(
                f"{req} (needed by {parent}) conflicts with {found.path.name}")
            continue
        else:
            wheel = found
        seen = done_extras.setdefault(name, set())
        wanted = ({""} | set(req.extras)) - seen
        if not wanted:
            continue
        seen |= wanted
        for dep in wheel.requires:
            if dep.marker is None or any(dep.marker.evaluate({**env, "extra": extra})
                                         for extra in wanted):
                queue.append((dep, f"{wheel.name} {wheel.version}"))
    return result


def build_kiosk_wheel(source_dir: Path, out_dir: Path) -> Path:
    """Build the kiosk's own wheel from its source tree with ``pip wheel --no-deps``."""
    if not (source_dir / "pyproject.toml").is_file():
        raise UsbError(f"{source_dir} has no pyproject.toml: pass --kiosk-wheel FILE")
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.whl"):
        old.unlink()
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
           "-q", "-w", str(out_dir), str(source_dir)]
    if _has_modern_setuptools():
        cmd.insert(4, "--no-build-isolation")  # offline and quicker
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    built = sorted(out_dir.glob("*.whl"))
    if proc.returncode != 0 or len(built) != 1:
        raise UsbError("building the kiosk wheel failed:\n" + _tail(proc.stderr))
    return built[0]


def _tail(text: str, lines: int = 12) -> str:
    kept = [line for line in text.splitlines() if not line.startswith("WARNING: Location")]
    return "\n".join(kept[-lines:])


def _pip_download(platform: Platform | None, python: str, requirements: Sequence[str],
                  dest: Path, *, no_deps: bool = False) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary", ":all:",
           "--disable-pip-version-check", "-q", "--python-version", python,
           "--implementation", "cp", "-d", str(dest)]
    if platform is not None:
        for tag in platform.tags:
            cmd += ["--platform", tag]
    if no_deps:
        cmd.append("--no-deps")
    cmd += list(requirements)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        errors = [re.sub(r" \(from versions: [^)]*\)", "", line.removeprefix("ERROR: "))
                  for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        raise UsbError("; ".join(errors[:2]) or _tail(proc.stderr))


@dataclass(frozen=True, slots=True)
class WheelSet:
    """The wheels one (platform, Python) pair installs, or why there are none."""

    platform: Platform
    python: str
    files: tuple[Path, ...] = ()
    skipped: str | None = None


def fetch_wheel_set(platform: Platform, python: str, kiosk: WheelFile, cache_dir: Path,
                    *, refresh: bool = False) -> WheelSet:
    """Download (or reuse from the cache) every wheel ``kiosk`` needs on a target."""
    env = platform.marker_env(python)
    requirements = sorted(without_marker(r) for r in kiosk.requires
                          if r.marker is None or r.marker.evaluate({**env, "extra": ""}))
    folder = cache_dir / platform.key / ("cp" + python.replace(".", ""))
    stamp_path = folder / STAMP_NAME
    key = {"requirements": requirements, "tags": list(platform.tags)}
    if not refresh and stamp_path.is_file():
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        files = tuple(folder / name for name in stamp.get("files", []))
        if stamp.get("key") == key and stamp.get("skipped"):
            LOG.warning("skipping %s, Python %s (cached; --refresh retries): %s",
                        platform.title, python, stamp["skipped"])
            return WheelSet(platform, python, skipped=str(stamp["skipped"]))
        if stamp.get("key") == key and all(f.is_file() for f in files):
            LOG.info("%s, Python %s: %d wheels from the cache", platform.title, python,
                     len(files))
            return WheelSet(platform, python, files)
    extra: list[str] = []
    tmp = folder.with_name(folder.name + ".tmp")
    for _round in range(_ROUNDS):
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            _pip_download(platform, python, requirements + extra, tmp)
        except UsbError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            return _skip(platform, python, key, folder, exc.message)
        wheels = [read_wheel(p) for p in sorted(tmp.glob("*.whl"))]
        closure = check_closure([*wheels, kiosk], [_requirement_on(kiosk)], platform, python)
        if not closure.problems:
            shutil.rmtree(folder, ignore_errors=True)
            tmp.replace(folder)
            names = sorted(w.path.name for w in closure.chosen.values() if w is not kiosk)
            unused = [w.path.name for w in wheels if w.path.name not in names]
            for name in unused:
                (folder / name).unlink()
            stamp_path.write_text(json.dumps({"key": key, "extra": extra, "files": names},
                                             indent=1) + "\n", encoding="utf-8")
            LOG.info("%s, Python %s: %d wheels downloaded%s", platform.title, python,
                     len(names), f" (markers added {extra})" if extra else "")
            return WheelSet(platform, python, tuple(folder / n for n in names))
        if not closure.missing:
            break
        # pip judged these markers on this machine, not on the target: ask for them.
        extra = sorted(set(extra) | {without_marker(r) for r in closure.missing})
    shutil.rmtree(tmp, ignore_errors=True)
    reason = "incomplete wheel set: " + "; ".join(closure.problems[:3])
    return _skip(platform, python, key, folder, reason)


def _skip(platform: Platform, python: str, key: dict[str, list[str]], folder: Path,
          reason: str) -> WheelSet:
    """Log and remember (in the cache) why a pair cannot be carried."""
    LOG.warning("skipping %s, Python %s: %s", platform.title, python, reason)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / STAMP_NAME).write_text(json.dumps({"key": key, "skipped": reason}, indent=1)
                                     + "\n", encoding="utf-8")
    return WheelSet(platform, python, skipped=reason)


def _requirement_on(wheel: WheelFile) -> Requirement:
    return Requirement(f"{wheel.name}=={wheel.version}")


def fetch_pip_wheel(cache_dir: Path) -> Path:
    """A pure-Python wheel of pip: the launcher runs it from the stick to install."""
    folder = cache_dir / "pip"
    found = sorted(folder.glob("pip-*-py3-none-any.whl"))
    if found:
        return found[-1]
    tmp = folder.with_name("pip.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _pip_download(None, "3.11", ["pip"], tmp, no_deps=True)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    found = sorted(folder.glob("pip-*-py3-none-any.whl"))
    if not found:
        raise UsbError("pip download of pip gave no pure-Python wheel")
    return found[-1]


def fetch_all(platforms: Sequence[Platform], pythons: Sequence[str], kiosk: WheelFile,
              cache_dir: Path, *, refresh: bool = False, jobs: int = 4) -> list[WheelSet]:
    """Every (platform, Python) wheel set, downloaded ``jobs`` at a time."""
    pairs = [(p, v) for p in platforms for v in pythons]
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="kiosk-wheels") as pool:
        futures = [pool.submit(fetch_wheel_set, p, v, kiosk, cache_dir, refresh=refresh)
                   for p, v in pairs]
        return [f.result() for f in futures]


def stick_paths(sets: Iterable[WheelSet], kiosk_wheel: Path,
                pip_wheel: Path) -> dict[str, Path]:
    """Where each wheel goes on the stick: ``wheels/any`` once, else ``wheels/<key>``."""
    out: dict[str, Path] = {
        f"kiosk/wheels/any/{kiosk_wheel.name}": kiosk_wheel,
        f"kiosk/wheels/any/{pip_wheel.name}": pip_wheel,
    }
    for ws in sets:
        for path in ws.files:
            _name, _version, _build, tags = parse_wheel_filename(path.name)
            pure = all(tag.platform == "any" for tag in tags)
            folder = "any" if pure else ws.platform.key
            out.setdefault(f"kiosk/wheels/{folder}/{path.name}", path)
    return out


def _has_modern_setuptools() -> bool:
    """Can this environment build the kiosk's wheel itself (setuptools 70.1+)?"""
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    major, minor = (int(p) for p in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)
