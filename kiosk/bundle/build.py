"""``kiosk bundle build``: turn a recipe into a verified, compressed bundle directory.

Steps (each printed as ``[n/N]``): read the recipe; prepare the pinned build
virtualenv; fetch the official Pyodide runtime and lock (npm ``pyodide@<version>``);
collect the package files (official ones hash-checked against that lock, pure-Python
wheels from PyPI) and write the shipped lock; run ``jupyter lite build``; slim and
check the output; write ``.br``/``.gz`` siblings; write ``kiosk-bundle.json``; move the
finished directory into place and, if asked, make it the active bundle.

The build happens in ``<out>/.build-<profile>-<pid>``, a directory nobody serves, and
appears under its final name with one rename: a running kiosk never sees half a bundle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.bundle import active, fontcache, kernelstart, verify
from kiosk.bundle.compress import BROTLI_QUALITY, CompressionStats, compress_tree
from kiosk.bundle.fetch import Cache, run
from kiosk.bundle.manifest import Manifest, describe_files, sha256_file, write_manifest
from kiosk.bundle.profiles import Profile, load_profile, recipe_fingerprint
from kiosk.bundle.progress import Progress
from kiosk.bundle.pyodide import (
    LOCK_NAME,
    REQUIRED_RUNTIME,
    RUNTIME_FILES,
    ExtraWheel,
    Lock,
    check_official,
    is_pure_wheel,
    rewrite_lock,
    wheel_name_version,
)
from kiosk.bundle.translations import add_extension_catalogs
from kiosk.errors import BundleError

PYODIDE_DIR = "static/pyodide"
KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
STEPS = 10


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """What ``kiosk bundle build`` was asked for."""

    profile: str
    recipes_dir: Path
    out_dir: Path
    cache_dir: Path
    pyodide_archive: str | None = None
    extension_dir: Path | None = None
    activate: bool = False


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A finished build."""

    path: Path
    manifest: Manifest
    stats: CompressionStats
    activated: bool
    seconds: float


@dataclass
class _Packages:
    """Package files chosen for ``static/pyodide`` and where each came from."""

    files: dict[str, Path] = field(default_factory=dict)        # file name → source
    official: dict[str, str] = field(default_factory=dict)      # file name → official sha256
    from_pypi: dict[str, str] = field(default_factory=dict)     # file name → sha256
    built: dict[str, str] = field(default_factory=dict)         # made here → sha256
    extra: list[ExtraWheel] = field(default_factory=list)


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")


def _pypi_wheel(cache: Cache, spec: str, lock: Lock) -> tuple[Path, ExtraWheel]:
    python = ".".join(lock.python.split(".")[:2]) if lock.python[:1].isdigit() else None
    path = cache.wheel(spec, python)
    if not is_pure_wheel(path.name):
        raise BundleError(f"{spec}: {path.name} is not a pure-Python wheel; only official "
                          "Pyodide builds may carry compiled code")
    name, version = wheel_name_version(path.name)
    old = lock.packages.get(name, {})
    return path, ExtraWheel(name, version, path.name, sha256_file(path),
                            depends=tuple(old.get("depends", ())),
                            imports=tuple(old.get("imports", (name.replace("-", "_"),))))


def collect_packages(profile: Profile, lock: Lock, cache: Cache, progress: Progress,
                     archive_dir: Path | None) -> _Packages:
    """Pick every package file of the bundle and check the official ones against ``lock``."""
    chosen = _Packages()
    replaced = {}
    for spec in profile.pypi_wheels:
        path, wheel = _pypi_wheel(cache, spec, lock)
        replaced[wheel.name] = wheel
        chosen.files[path.name] = path
        chosen.from_pypi[path.name] = wheel.sha256
        chosen.extra.append(wheel)
    names = [n for n in lock.closure(profile.pyodide_packages) if n not in replaced]
    packages = lock.packages
    if archive_dir is not None:
        source = f"the release archive ({archive_dir})"
        carrier_dir = archive_dir
    elif profile.official_from == "carrier":
        assert profile.carrier and profile.carrier_path
        source = f"the carrier {profile.carrier}"
        carrier_dir = cache.carrier(profile.carrier, profile.carrier_path)
    else:
        source = "PyPI (pure-Python wheels)"
        carrier_dir = None
    progress.say(f"{len(names)} Pyodide packages from {source}")
    official_files: dict[str, Path] = {}
    for name in names:
        entry = packages[name]
        file_name = str(entry["file_name"])
        if carrier_dir is not None:
            path = carrier_dir / file_name
            if not path.is_file():
                raise BundleError(f"{file_name} ({name} {entry['version']}) is not in {source}")
            official_files[file_name] = path
            continue
        if not is_pure_wheel(file_name):
            raise BundleError(
                f"{name} is a compiled Pyodide package ({file_name}); it can only come from "
                "official files: give --pyodide-archive or use a profile with a carrier")
        path, wheel = _pypi_wheel(cache, f"{entry['name']}=={entry['version']}", lock)
        chosen.files[path.name] = path
        chosen.from_pypi[path.name] = wheel.sha256
        chosen.extra.append(wheel)
    check_official(official_files, lock)
    by_file = lock.by_file()
    for file_name, path in official_files.items():
        chosen.files[file_name] = path
        chosen.official[file_name] = str(by_file[file_name]["sha256"])
    progress.say(f"{len(official_files)} official files match the lock; "
                 f"{len(chosen.from_pypi)} wheels from PyPI")
    return chosen


def _runtime(npm_dir: Path, archive_dir: Path | None, progress: Progress) -> dict[str, Path]:
    """The runtime files to ship (from the archive when given, else from npm)."""
    base = archive_dir or npm_dir
    files = {n: base / n for n in RUNTIME_FILES if (base / n).is_file()}
    missing = [n for n in REQUIRED_RUNTIME if n not in files]
    if missing:
        raise BundleError(f"the Pyodide runtime in {base} lacks {', '.join(missing)}")
    if archive_dir is not None:
        for name, path in files.items():
            twin = npm_dir / name
            if twin.is_file() and sha256_file(twin) != sha256_file(path):
                progress.say(f"warning: {name} of the archive differs from npm's copy")
    return files


def _merge_json(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge_json(out[key], value)
        else:
            out[key] = value
    return out


def _prepare_lite_dir(work: Path, profile: Profile, runtime: Mapping[str, Path],
                      packages: _Packages, lock: Lock) -> Path:
    """A JupyterLite ``lite_dir`` whose ``static/pyodide`` is our assembled Pyodide."""
    if work.exists():
        shutil.rmtree(work)
    pyodide_dir = work / PYODIDE_DIR
    pyodide_dir.mkdir(parents=True)
    for name, src in {**runtime, **packages.files}.items():
        shutil.copyfile(src, pyodide_dir / name)
    shipped = {name: sha256_file(pyodide_dir / name) for name in packages.files}
    lock_data = rewrite_lock(lock, shipped, packages.extra)
    (pyodide_dir / LOCK_NAME).write_text(json.dumps(lock_data, sort_keys=True),
                                         encoding="utf-8")
    for name in ("jupyter_lite_config.json", "jupyter-lite.json"):
        src = profile.folder / name
        if src.is_file():
            shutil.copyfile(src, work / name)
    return work


def _add_font_cache(work: Path, packages: _Packages, lock: Lock, cache_dir: Path,
                    progress: Progress) -> None:
    """Ship matplotlib's font cache, built with this Pyodide (see kiosk/bundle/fontcache.py).

    The wheel is cached by the files it was made from; the check that matplotlib no
    longer builds the cache runs on every build, through the shipped lock.
    """
    mpl = lock.packages.get("matplotlib")
    if mpl is None or str(mpl["file_name"]) not in packages.files:
        return
    pyodide_dir = work / PYODIDE_DIR
    key_parts = [sha256_file(pyodide_dir / n) for n in ("pyodide.asm.wasm", "python_stdlib.zip")
                 if (pyodide_dir / n).is_file()] + [str(mpl["sha256"])]
    key = hashlib.sha256("\n".join(key_parts).encode()).hexdigest()[:24]
    cached_dir = cache_dir / "fontcache" / key
    cached = sorted(cached_dir.glob("*.whl")) if cached_dir.is_dir() else []
    if cached:
        wheel_path = pyodide_dir / cached[0].name
        shutil.copyfile(cached[0], wheel_path)
        version = fontcache.wheel_version(wheel_path.name)
        progress.say(f"matplotlib's font cache: {wheel_path.name} (cached)")
    else:
        progress.say("building matplotlib's font cache with this Pyodide under Node.js")
        made = fontcache.make_wheel(pyodide_dir, pyodide_dir)
        wheel_path, version = made.path, made.version
        cached_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel_path, cached_dir / wheel_path.name)
        progress.say(f"matplotlib's font cache: {made.fonts} fonts (matplotlib spent "
                     f"{made.build_seconds:.1f} s building it)")
    sha = sha256_file(wheel_path)
    packages.files[wheel_path.name] = wheel_path
    packages.built[wheel_path.name] = sha
    packages.extra.append(ExtraWheel(fontcache.PACKAGE, version, wheel_path.name, sha))
    shipped = {name: sha256_file(pyodide_dir / name) for name in packages.files}
    lock_data = fontcache.route_imports(rewrite_lock(lock, shipped, packages.extra))
    (pyodide_dir / LOCK_NAME).write_text(json.dumps(lock_data, sort_keys=True),
                                         encoding="utf-8")
    checked = fontcache.verify(pyodide_dir)
    progress.say(f"checked: matplotlib {checked['matplotlib']} imports with no font-cache "
                 f"warning ({checked['import_seconds']:.1f} s under Node.js)")


def _add_kernel_start(work: Path, packages: _Packages, lock: Lock,
                      progress: Progress) -> None:
    """Ship ``kiosk-kernel-start`` and a lock that no longer loads what it defers.

    See kiosk/bundle/kernelstart.py; the kernel's worker is patched after
    ``jupyter lite build`` (:func:`kernelstart.patch_worker`).
    """
    pyodide_dir = work / PYODIDE_DIR

    def shipped_lock() -> dict[str, Any]:
        shipped = {name: sha256_file(pyodide_dir / name) for name in packages.files}
        data = rewrite_lock(lock, shipped, packages.extra)
        if any(w.name == fontcache.PACKAGE for w in packages.extra):
            data = fontcache.route_imports(data)
        return kernelstart.trim_lock(data)

    deferred = kernelstart.deferred_entries(shipped_lock())
    wheel_path = kernelstart.write_wheel(pyodide_dir, deferred)
    sha = sha256_file(wheel_path)
    packages.files[wheel_path.name] = wheel_path
    packages.built[wheel_path.name] = sha
    packages.extra.append(ExtraWheel(kernelstart.PACKAGE,
                                     kernelstart.wheel_version(wheel_path.name),
                                     wheel_path.name, sha, imports=(kernelstart.MODULE,)))
    (pyodide_dir / LOCK_NAME).write_text(json.dumps(shipped_lock(), sort_keys=True),
                                         encoding="utf-8")
    names = sorted({e["package"] for e in deferred.values()})
    progress.say(f"kernel start without ssl, sqlite3 and jedi; loaded on first import: "
                 f"{', '.join(names) or 'nothing'} ({wheel_path.name})")


def _add_kiosk_wheels(work: Path, profile: Profile, packages: _Packages, lock: Lock, *,
                      cache_dir: Path, progress: Progress) -> None:
    """The wheels the builder makes: matplotlib's font cache, then the kernel's start."""
    _add_font_cache(work, packages, lock, cache_dir, progress)
    if profile.slim_kernel_start:  # after the font cache: its lock entries count
        _add_kernel_start(work, packages, lock, progress)


#: build leftovers that no page loads
_LEFTOVERS = re.compile(r"(rspack|webpack)\.config(\.\w+)?\.js|\.jupyterlite\.doit\.db"
                        r"|.*\.map|.*\.d\.ts")


def _slim(out: Path) -> None:
    """Drop what the kiosk never serves: sourcemaps and build leftovers."""
    for path in list(out.rglob("*")):
        if path.is_file() and _LEFTOVERS.fullmatch(path.name):
            path.unlink()


def _finish_config(out: Path) -> None:
    """Make every ``jupyter-lite.json`` keep the kernel offline, whatever the build wrote."""
    for path in out.rglob("jupyter-lite.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        config = data.setdefault("jupyter-config-data", {})
        settings = config.setdefault("litePluginSettings", {}).setdefault(KERNEL_PLUGIN, {})
        if path.parent == out:
            if not str(settings.get("pyodideUrl", "")).startswith("./static/pyodide/"):
                raise BundleError(f"{path}: the build did not set a local pyodideUrl "
                                  f"({settings.get('pyodideUrl')!r})")
            settings["disablePyPIFallback"] = True
        elif settings:
            settings["disablePyPIFallback"] = True
        else:
            config["litePluginSettings"].pop(KERNEL_PLUGIN)
            if not config["litePluginSettings"]:
                config.pop("litePluginSettings")
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _official_pyodide(profile: Profile, cache: Cache,
                      archive: str | None) -> tuple[Path, Lock, Path | None]:
    """The npm runtime folder, the official lock, and the unpacked archive (if given)."""
    npm_dir = cache.npm_package("pyodide", profile.pyodide)
    lock = Lock.read(npm_dir / LOCK_NAME)
    if lock.version and lock.version != profile.pyodide:
        raise BundleError(f"npm pyodide@{profile.pyodide} has a lock for {lock.version}")
    if not archive:
        return npm_dir, lock, None
    archive_dir = cache.pyodide_archive(archive)
    archive_lock = Lock.read(archive_dir / LOCK_NAME)
    if not archive_lock.same_build(lock):
        raise BundleError(
            f"--pyodide-archive holds another Pyodide ({archive_lock.label}) than the "
            f"profile {profile.name!r} needs ({profile.pyodide})")
    return npm_dir, lock, archive_dir


def _lite_build(venv: Path, work: Path, out: Path, *, profile: Profile,
                extension: Path | None, progress: Progress) -> bool:
    """Run ``jupyter lite build``; return whether the kiosk extension was included."""
    cmd: list[str | Path] = [venv / "bin" / "jupyter", "lite", "build", "--lite-dir", work,
                             "--output-dir", out]
    if profile.content_dir.is_dir():
        cmd += ["--contents", profile.content_dir.resolve()]
    included = extension is not None and (extension / "package.json").is_file()
    if included:
        assert extension is not None
        progress.say(f"including the kiosk extension from {extension}")
        cmd += ["--LiteBuildConfig.federated_extensions", str(extension.resolve())]
    else:
        progress.say(f"no kiosk extension at {extension} (building without it)")
    run(cmd, what="jupyter lite build", cwd=work,
        env={"JUPYTERLITE_NO_LIBARCHIVE": "1", "PYTHONWARNINGS": "ignore"})
    if profile.slim_kernel_start:
        patched = kernelstart.patch_worker(out)
        progress.say(f"the kernel's start list slimmed in {len(patched)} worker file(s)")
    if included:
        # Its Share dialog in the languages JupyterLab speaks here (translations.py).
        locales = add_extension_catalogs(out)
        progress.say("the kiosk extension's words added for: "
                     + (", ".join(locales) or "no language (no JupyterLab language pack)"))
    return included


def _make_manifest(out: Path, *, profile: Profile, lock: Lock, official_lock: Path,
                   packages: _Packages, source: str, extension: bool,
                   recipe_sha256: str) -> Manifest:
    shipped_lock = Lock.read(out / PYODIDE_DIR / LOCK_NAME)
    return Manifest(
        profile=profile.name,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        versions={
            "jupyterlite_core": profile.jupyterlite_core,
            "pyodide_kernel": profile.pyodide_kernel,
            "pyodide": profile.pyodide,
            "python": lock.python,
            "packages": {str(e["name"]): str(e["version"])
                         for e in shipped_lock.data["packages"].values()},
        },
        files=describe_files(out),
        extra={
            "pyodide": {
                "dir": PYODIDE_DIR,
                "official_lock_sha256": sha256_file(official_lock),
                "official_source": source,
                "official": dict(sorted(packages.official.items())),
                "from_pypi": dict(sorted(packages.from_pypi.items())),
                "built": dict(sorted(packages.built.items())),
            },
            "extension": extension,
            # What --if-missing compares with the recipe on disk (profiles.py).
            "recipe": {"sha256": recipe_sha256},
        },
    )


def _fail_on(problems: list[verify.Problem], what: str) -> None:
    if problems:
        raise BundleError(f"{what}:\n  " + "\n  ".join(str(p) for p in problems[:20]))


def build_bundle(options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Build one bundle; raise :class:`BundleError` saying what failed and why."""
    progress = progress or Progress(STEPS)
    # Absolute paths: jupyter lite build runs in another working directory.
    options = dataclasses.replace(
        options, out_dir=options.out_dir.resolve(), cache_dir=options.cache_dir.resolve(),
        recipes_dir=options.recipes_dir.resolve())
    progress.step(f"reading the recipe {options.profile!r}")
    profile = load_profile(options.recipes_dir, options.profile)
    recipe_sha256 = recipe_fingerprint(profile, options.extension_dir)
    progress.say(profile.description)
    archive = options.pyodide_archive
    if archive and not archive.startswith(("http://", "https://")) \
            and not Path(archive).expanduser().is_file():
        raise BundleError(f"--pyodide-archive {archive}: no such file")
    cache = Cache(options.cache_dir, say=progress.say)
    options.out_dir.mkdir(parents=True, exist_ok=True)

    progress.step("preparing the build environment")
    venv = cache.venv(profile.name, profile.requirements)

    progress.step(f"fetching the official Pyodide {profile.pyodide} runtime and lock (npm)")
    npm_dir, lock, archive_dir = _official_pyodide(profile, cache, archive)

    progress.step("collecting Pyodide packages and checking them against the official lock")
    packages = collect_packages(profile, lock, cache, progress, archive_dir)
    runtime = _runtime(npm_dir, archive_dir, progress)

    progress.step(f"running jupyter lite build (jupyterlite-core {profile.jupyterlite_core})")
    work = _prepare_lite_dir(options.cache_dir / "work" / f"{profile.name}-{os.getpid()}",
                             profile, runtime, packages, lock)
    _add_kiosk_wheels(work, profile, packages, lock, cache_dir=options.cache_dir,
                      progress=progress)
    tmp_out = options.out_dir / f".build-{profile.name}-{os.getpid()}"
    shutil.rmtree(tmp_out, ignore_errors=True)
    try:
        extension = _lite_build(venv, work, tmp_out, profile=profile,
                                extension=options.extension_dir, progress=progress)

        progress.step("slimming and checking the site")
        _slim(tmp_out)
        _finish_config(tmp_out)
        _fail_on(verify.offline_problems(tmp_out) + verify.kernel_config_problems(tmp_out),
                 "the site would reach outside the kiosk")

        progress.step(f"compressing (brotli {BROTLI_QUALITY}, gzip 9; reusing earlier "
                      "builds' results)")
        stats = compress_tree(tmp_out, progress=progress.bar,
                              cache_dir=options.cache_dir / "compressed")
        progress.say(f"{stats.files} files, {stats.raw / 2**20:.1f} MiB; as sent: "
                     f"br {stats.encoded['br'] / 2**20:.1f} MiB, "
                     f"gzip {stats.encoded['gzip'] / 2**20:.1f} MiB")

        progress.step("writing the manifest (sha256 of every file)")
        source = "archive" if archive_dir else profile.official_from
        manifest = _make_manifest(tmp_out, profile=profile, lock=lock,
                                  official_lock=npm_dir / LOCK_NAME, packages=packages,
                                  source=source, extension=extension,
                                  recipe_sha256=recipe_sha256)
        write_manifest(tmp_out, manifest)
        _fail_on(verify.verify_full(tmp_out, official_lock=npm_dir / LOCK_NAME),
                 "the new bundle fails its own verification")

        progress.step("moving the bundle into place")
        final = _move_into_place(tmp_out, options.out_dir, profile.name)
    except BaseException:
        shutil.rmtree(tmp_out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)

    progress.step("activating")
    activated = _activate(options.out_dir, final.name, options.activate, progress)
    progress.finish_step()
    return BuildResult(final, manifest, stats, activated, progress.elapsed())


def _move_into_place(tmp_out: Path, out_dir: Path, profile: str) -> Path:
    """Give the finished bundle its final name, in one rename."""
    final = out_dir / f"{profile}-{_timestamp()}"
    serial = 1
    while final.exists():
        serial += 1
        final = out_dir / f"{profile}-{_timestamp()}-{serial}"
    tmp_out.rename(final)
    return final


def _activate(out_dir: Path, name: str, asked: bool, progress: Progress) -> bool:
    """Point ``current`` at the new bundle when asked, or when nothing is active yet."""
    if asked or active.current_bundle(out_dir) is None:
        active.set_current(out_dir, name)
        progress.say(f"{name} is now the active bundle")
        return True
    progress.say(f"not activated (run: kiosk bundle use {name})")
    return False
