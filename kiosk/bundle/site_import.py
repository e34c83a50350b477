"""``kiosk bundle import SOURCE``: make a JupyterLite site built elsewhere a kiosk bundle.

A school may already have a JupyterLite site (Jupyter Everywhere's, or one a teacher
built with ``jupyter lite build``). Such a site usually reaches outside: Pyodide from a
CDN, fonts from Google, a library's CDN link. The importer makes it serve offline:

1. **unpack** ``SOURCE`` (a folder, ``.tar.gz``/``.tgz`` or ``.zip``) into a private build
   directory, refusing absolute paths, ``..``, links and devices;
2. **find the site** (the folder holding ``jupyter-lite.json`` and ``index.html``) and
   check it was built by jupyterlite-core 0.4 or newer;
3. **make the runtime local**: the Pyodide the site loads (from its ``pyodideUrl``, or the
   kernel's built-in CDN default) is fetched from the npm registry (``pyodide@<version>``),
   with the packages the kernel needs, each checked against the official lock exactly as
   ``kiosk bundle build`` does, and the site is pointed at it;
4. **replace fonts** linked from Google Fonts with local copies from the npm
   ``@fontsource/<family>`` packages (or drop the link when there is none);
5. **add the kiosk's extension** (Share dialog, view-only links, kernel set-up) unless
   asked not to;
6. **scan** every HTML, CSS, JS and JSON file for outside addresses. Anything the browser
   would load fails the import. A host named inside code that is never fetched (a URL in
   a library's help text) fails too, unless the teacher's reviewed allow-list
   (``--allow FILE``) names that file and host with a reason;
7. compress, write the manifest (which records the allowed references, so ``verify``
   and ``kiosk serve`` accept exactly those), move into place, optionally activate.

Every step is recorded in ``kiosk-import.json`` and ``kiosk-import.txt`` inside the
bundle: what was localized, what was allowed and why, what was dropped. A failed
import writes the report next to the bundles (``<name>.import-failed.json``) with
a ready-to-review allow-list of the inert-looking references.

Blocking throughout (downloads, hashing, compression): the CLI runs it directly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import stat
import tarfile
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kiosk.bundle import active, verify
from kiosk.bundle.build import KERNEL_PLUGIN, PYODIDE_DIR, _finish_config, _slim, collect_packages
from kiosk.bundle.compress import compress_tree
from kiosk.bundle.fetch import Cache
from kiosk.bundle.manifest import Manifest, describe_files, sha256_file, write_manifest
from kiosk.bundle.profiles import Profile
from kiosk.bundle.progress import Progress
from kiosk.bundle.pyodide import (
    LOCK_NAME,
    REQUIRED_RUNTIME,
    RUNTIME_FILES,
    Lock,
    normalize,
    rewrite_lock,
)
from kiosk.bundle.translations import add_extension_catalogs
from kiosk.errors import BundleError

STEPS = 8
REPORT_JSON = "kiosk-import.json"
REPORT_TEXT = "kiosk-import.txt"
FONTS_DIR = "static/kiosk-fonts"
#: the oldest jupyterlite-core whose sites the importer understands
MIN_JUPYTERLITE = (0, 4)
#: what the Python kernel loads at every start (their dependencies come along)
KERNEL_PACKAGES = ("micropip", "ipython", "jedi")
#: pure-Python wheels the kernel installs at start that no Pyodide lock carries
KERNEL_WHEELS = ("comm==0.2.3",)
#: what the kiosk's extension's kernel set-up routes (urllib, pandas) through the kiosk
EXTENSION_WHEELS = ("pyodide-http==0.2.2",)
#: limits on what an archive may unpack to
MAX_FILES = 60_000
MAX_BYTES = 2 << 30

_CDN_PYODIDE = re.compile(r"pyodide(?:/v|@)(\d+\.\d+\.\d+(?:[a-z]+\d+)?)/(?:full/)?"
                          r"(pyodide\.m?js)")
_GOOGLE_CSS = re.compile(r"https?://fonts\.googleapis\.com/css2?\?[^\"'()\s>]+")
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
#: a package install the site's own code runs in the kernel (Jupyter Everywhere sends
#: "%pip install -y pyodide-http requests" to every new Python kernel)
_PIP_MAGIC = re.compile(r"%(?:pip|micropip)[ \t]+install[ \t]+([^\"'`\\\n;]*)")
_REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?:[<>=!~].*)?")
_CSS_IMPORT = re.compile(r"""@import\s*(?:url\()?\s*["']?(https?://fonts\.googleapis\.com/"""
                         r"""[^"')\s]+)["']?\s*\)?\s*;?""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What ``kiosk bundle import`` was asked for."""

    source: Path
    out_dir: Path
    cache_dir: Path
    name: str | None = None
    #: the kiosk's prebuilt labextension (its kernel set-up: time.sleep, downloads and
    #: files through the kiosk; and its Share UI unless ``share_ui`` is False); None
    #: leaves it out entirely (a warning: kernels then get no kiosk set-up)
    extension_dir: Path | None = None
    #: False for a site that brings its own Share UI: the extension's Share plugin is
    #: listed in ``disabledExtensions``, its kernel set-up still runs
    share_ui: bool = True
    #: the teacher's reviewed allow-list of inert references (JSON), if any
    allow_file: Path | None = None
    pyodide_archive: str | None = None
    extra_packages: tuple[str, ...] = ()
    activate: bool = False


@dataclass(frozen=True, slots=True)
class Allowance:
    """One reviewed inert reference: ``host`` named in ``path``, never fetched."""

    path: str
    host: str
    reason: str

    @staticmethod
    def parse(item: Any, where: str) -> Allowance:
        if not isinstance(item, dict):
            raise BundleError(f"{where}: each entry is an object with path, host and reason")
        values = {k: item.get(k) for k in ("path", "host", "reason")}
        bad = [k for k, v in values.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            raise BundleError(f"{where}: entry {item!r} lacks {', '.join(bad)}")
        if values["host"] not in verify.FETCH_HOSTS:
            raise BundleError(f"{where}: {values['host']!r} is not a host the scan reports")
        return Allowance(str(values["path"]), str(values["host"]), str(values["reason"]))


@dataclass
class ImportReport:
    """What the import did, written as ``kiosk-import.json`` and ``kiosk-import.txt``."""

    source: str
    jupyterlite: str = ""
    pyodide: str = ""
    #: the kiosk's Share UI (dialog, badge, view-only links) is in the site
    kiosk_extension: bool = False
    #: the kiosk's kernel set-up is in the site (with or without its Share UI)
    kernel_setup: bool = False
    localized: list[dict[str, str]] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)
    allowed: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    #: what will not work offline although nothing leaves the kiosk
    warnings: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def text(self) -> str:
        lines = [f"Imported {self.source}",
                 f"JupyterLite {self.jupyterlite}, Pyodide {self.pyodide}, kiosk extension "
                 f"{_extension_words(self)}", ""]
        sections = (("Made local", self.localized, "{what}: {source} -> {local}"),
                    ("Dropped", self.dropped, "{what}: {source} ({why})"),
                    ("Allowed (reviewed, never fetched)", self.allowed,
                     "{path}:{line}: {host} ({reason})"),
                    ("Refused", self.refused, "{path}:{line}: {what}"),
                    ("Warnings", self.warnings, "{where}: {what}"))
        for title, items, form in sections:
            lines.append(f"{title}: {len(items) or 'none'}")
            lines += ["  " + form.format_map(_Blank(item)) for item in items]
        return "\n".join(lines) + "\n"


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """A finished import."""

    path: Path
    manifest: Manifest
    report: ImportReport
    activated: bool


# ---------------------------------------------------------------------------------------
# 1. unpacking

def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("\\") or ":" in path.parts[0]:
        raise BundleError(f"the archive holds an unsafe path: {name!r}")
    return path


def unpack_source(source: Path, dest: Path) -> None:
    """Copy or extract ``source`` into the empty folder ``dest`` (blocking)."""
    if source.is_dir():
        for count, path in enumerate(source.rglob("*"), start=1):
            if stat.S_ISLNK(path.lstat().st_mode):
                raise BundleError(f"{path}: the site may not contain links")
            if count > MAX_FILES:
                raise BundleError(f"{source} holds more than {MAX_FILES} files")
        shutil.copytree(source, dest, dirs_exist_ok=True)
        return
    name = source.name.lower()
    if name.endswith(".zip"):
        _unzip(source, dest)
    elif name.endswith((".tar.gz", ".tgz", ".tar")):
        _untar(source, dest)
    else:
        raise BundleError(f"{source}: give a folder, a .tar.gz/.tgz or a .zip of a "
                          "built JupyterLite site")


def _unzip(source: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
            _check_totals(source, len(infos), sum(i.file_size for i in infos))
            for info in infos:
                rel = _safe_member(info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise BundleError(f"{source}: {info.filename} is a link")
                target = dest.joinpath(*rel.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BundleError(f"{source}: not a readable zip ({exc})") from None


def _untar(source: Path, dest: Path) -> None:
    try:
        with tarfile.open(source) as tar:
            members = tar.getmembers()
            _check_totals(source, len(members), sum(m.size for m in members))
            for member in members:
                _safe_member(member.name)
                if not (member.isfile() or member.isdir()):
                    raise BundleError(f"{source}: {member.name} is not a plain file")
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"{source}: not a readable tar archive ({exc})") from None


def _check_totals(source: Path, count: int, size: int) -> None:
    if count > MAX_FILES:
        raise BundleError(f"{source} holds more than {MAX_FILES} files")
    if size > MAX_BYTES:
        raise BundleError(f"{source} unpacks to more than {MAX_BYTES >> 30} GiB")


# ---------------------------------------------------------------------------------------
# 2. the site and its configuration

def find_site_root(folder: Path) -> Path:
    """The folder of the site: ``folder`` or its only sub-folder holding jupyter-lite.json."""
    candidates = [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]
    for cand in candidates:
        if (cand / "jupyter-lite.json").is_file() and (cand / "index.html").is_file():
            return cand
    raise BundleError("no JupyterLite site found: expected jupyter-lite.json and index.html "
                      "at the top (or in one folder below it); build the site with "
                      "'jupyter lite build' first")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path.name}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path.name}: not a JSON object")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _config_data(data: dict[str, Any]) -> dict[str, Any]:
    config = data.setdefault("jupyter-config-data", {})
    if not isinstance(config, dict):
        raise BundleError("jupyter-lite.json: jupyter-config-data is not an object")
    return config


def jupyterlite_version(root: Path) -> str:
    """The jupyterlite-core version that built the site; refuse older than 0.4."""
    config = _config_data(_read_json(root / "jupyter-lite.json"))
    version = str(config.get("appVersion", ""))
    match = re.match(r"(\d+)\.(\d+)", version)
    if not match:
        raise BundleError("jupyter-lite.json has no appVersion: not a site built by "
                          "jupyterlite-core 0.4 or newer")
    if (int(match.group(1)), int(match.group(2))) < MIN_JUPYTERLITE:
        raise BundleError(f"the site was built by JupyterLite {version}; the kiosk imports "
                          "sites from jupyterlite-core 0.4 on (rebuild it with a newer one)")
    return version


# ---------------------------------------------------------------------------------------
# 3. the Pyodide runtime

@dataclass(frozen=True, slots=True)
class RuntimeSource:
    """Which Pyodide the site loads, and from where."""

    version: str
    entry: str          # pyodide.mjs or pyodide.js
    origin: str         # the URL or path the site used


def find_runtime(root: Path) -> RuntimeSource:
    """The Pyodide the site's kernel would load (its setting, else the kernel's default)."""
    config = _config_data(_read_json(root / "jupyter-lite.json"))
    settings = config.get("litePluginSettings", {}).get(KERNEL_PLUGIN, {})
    url = str(settings.get("pyodideUrl", "")) if isinstance(settings, dict) else ""
    if url and not re.match(r"(?i)(https?:)?//", url):
        lock_path = (root / url).parent / LOCK_NAME
        if not lock_path.is_file():
            raise BundleError(f"pyodideUrl {url!r} is local but {lock_path.name} is missing")
        version = Lock.read(lock_path).version
        if not version:
            raise BundleError(f"{lock_path}: the lock names no Pyodide version")
        return RuntimeSource(version, PurePosixPath(url).name, url)
    if url:
        match = _CDN_PYODIDE.search(url)
        if not match:
            raise BundleError(f"pyodideUrl {url!r}: cannot tell which Pyodide version it is")
        return RuntimeSource(match.group(1), match.group(2), url)
    kernel_dir = root / "extensions" / "@jupyterlite" / "pyodide-kernel-extension"
    for path in sorted(kernel_dir.rglob("*.js")):
        match = _CDN_PYODIDE.search(path.read_text(encoding="utf-8", errors="replace"))
        if match:
            return RuntimeSource(match.group(1), match.group(2),
                                 f"the kernel's default ({match.group(0)})")
    raise BundleError("the site has no Pyodide kernel (no pyodideUrl and no "
                      "@jupyterlite/pyodide-kernel-extension): nothing to run Python with")


@dataclass(frozen=True, slots=True)
class StartupInstall:
    """A ``%pip install`` the site's own code sends to the kernel (``path``:``line``)."""

    path: str
    line: int
    command: str
    packages: tuple[str, ...]


def startup_installs(root: Path) -> list[StartupInstall]:
    """Every ``%pip``/``%micropip install`` written in the site's JavaScript.

    A site's extension may install packages in each new kernel (Jupyter Everywhere installs
    pyodide-http and requests). Offline, such a cell fails unless the packages are in the
    bundle, and JupyterLite (0.6 and later) then silently drops every request queued
    behind the failed one: a cell the student ran while the kernel started never answers.
    Options (``-y``), URLs and paths are skipped; names are PEP 503 normalized.
    """
    found: list[StartupInstall] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or not path.name.endswith((".js", ".mjs", ".cjs")):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _PIP_MAGIC.finditer(text):
            names = []
            for token in match.group(1).split():
                requirement = _REQUIREMENT.fullmatch(token)
                if token.startswith("-") or token.endswith(".whl") or requirement is None:
                    continue
                name = normalize(requirement.group(1))
                if name not in names:
                    names.append(name)
            if names:
                found.append(StartupInstall(path.relative_to(root).as_posix(),
                                            text.count("\n", 0, match.start()) + 1,
                                            match.group(0).strip(), tuple(names)))
    return found


def _startup_packages(root: Path, lock: Lock, report: ImportReport) -> tuple[str, ...]:
    """The packages the site installs at kernel start that the lock has (others: warned)."""
    known = lock.packages
    chosen: list[str] = []
    for item in startup_installs(root):
        where = f"{item.path}:{item.line}"
        have = [n for n in item.packages if n in known]
        missing = [n for n in item.packages if n not in known]
        if have:
            chosen += [n for n in have if n not in chosen]
            report.localized.append({
                "what": "packages the site installs in each new kernel",
                "source": f"{where} ({item.command})",
                "local": f"{', '.join(have)} (and what they need) in ./{PYODIDE_DIR}"})
        if missing:
            report.warnings.append({
                "where": where,
                "what": f"the site installs {', '.join(missing)} in each new kernel, and the "
                        f"Pyodide {lock.label} lock has no such package: that cell fails "
                        "offline, and JupyterLite then drops the cells queued behind it"})
    return tuple(chosen)


def localize_runtime(root: Path, source: RuntimeSource, *, options: ImportOptions,
                     cache: Cache, progress: Progress, report: ImportReport
                     ) -> dict[str, Any]:
    """Put the official Pyodide and the kernel's packages into ``static/pyodide``.

    Returns the manifest's ``pyodide`` section (official and PyPI hashes).
    """
    npm_dir = cache.npm_package("pyodide", source.version)
    lock = Lock.read(npm_dir / LOCK_NAME)
    archive_dir = cache.pyodide_archive(options.pyodide_archive) \
        if options.pyodide_archive else None
    wheels = KERNEL_WHEELS + (EXTENSION_WHEELS if options.extension_dir else ())
    profile = Profile(name="import", folder=root, description="imported site",
                      jupyterlite_core="", pyodide_kernel="", pyodide=source.version,
                      requirements=(), pyodide_packages=KERNEL_PACKAGES
                      + _startup_packages(root, lock, report) + options.extra_packages,
                      pypi_wheels=wheels,
                      official_from="pypi")
    packages = collect_packages(profile, lock, cache, progress, archive_dir)
    base = archive_dir or npm_dir
    runtime = {n: base / n for n in RUNTIME_FILES if (base / n).is_file()}
    missing = [n for n in (*REQUIRED_RUNTIME, source.entry) if n not in runtime]
    if missing:
        raise BundleError(f"the official Pyodide {source.version} lacks {', '.join(missing)}")
    folder = root / PYODIDE_DIR
    if folder.exists():
        old = sorted(p.name for p in folder.iterdir())
        shutil.rmtree(folder)
        report.dropped.append({"what": "the site's own static/pyodide", "source":
                               f"{len(old)} files", "why": "replaced by the official release"})
    folder.mkdir(parents=True)
    for name, src in {**runtime, **packages.files}.items():
        shutil.copyfile(src, folder / name)
    shipped = {name: sha256_file(folder / name) for name in packages.files}
    (folder / LOCK_NAME).write_text(json.dumps(rewrite_lock(lock, shipped, packages.extra),
                                               sort_keys=True), encoding="utf-8")
    report.localized.append({"what": f"Pyodide {source.version}", "source": source.origin,
                             "local": f"./{PYODIDE_DIR}/{source.entry} (npm "
                                      f"pyodide@{source.version}; {len(packages.official)} "
                                      "official package files and "
                                      f"{len(packages.from_pypi)} PyPI wheels at the official "
                                      "lock's versions)"})
    _point_kernel_at(root, f"./{PYODIDE_DIR}/{source.entry}", report)
    return {"dir": PYODIDE_DIR, "official_lock_sha256": sha256_file(npm_dir / LOCK_NAME),
            "official_source": "archive" if archive_dir else "pypi",
            "official": dict(sorted(packages.official.items())),
            "from_pypi": dict(sorted(packages.from_pypi.items())),
            "official_lock": str(npm_dir / LOCK_NAME)}


def _point_kernel_at(root: Path, url: str, report: ImportReport) -> None:
    """Set the local pyodideUrl at the root; no other config may name another one."""
    for path in sorted(root.rglob("jupyter-lite.json")):
        data = _read_json(path)
        plugins = _config_data(data).setdefault("litePluginSettings", {})
        settings = plugins.setdefault(KERNEL_PLUGIN, {}) if path.parent == root \
            else plugins.get(KERNEL_PLUGIN)
        if not isinstance(settings, dict):
            continue
        if path.parent == root:
            settings["pyodideUrl"] = url
        else:
            settings.pop("pyodideUrl", None)
        kept = []
        for item in settings.get("pipliteUrls", []):
            if re.match(r"(?i)(https?:)?//", str(item)):
                report.dropped.append({"what": "a piplite index", "source": str(item),
                                       "why": "outside the kiosk; the kernel's own index "
                                              "stays"})
            else:
                kept.append(item)
        if "pipliteUrls" in settings:
            settings["pipliteUrls"] = kept
        settings["disablePyPIFallback"] = True
        _write_json(path, data)


# ---------------------------------------------------------------------------------------
# 4. fonts

def _google_families(url: str) -> list[tuple[str, list[int]]]:
    """``[(family, weights)]`` asked for by a Google Fonts CSS URL."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    out = []
    for raw in query.get("family", []):
        for part in raw.split("|"):
            name, _, spec = part.partition(":")
            found = {int(w) for w in re.findall(r"\b([1-9]00)\b", spec)}
            for low, high in re.findall(r"\b([1-9]00)\.\.([1-9]00)\b", spec):  # variable axes
                found |= set(range(int(low), int(high) + 1, 100))
            weights = sorted(found) or [400]
            if name.strip():
                out.append((name.strip(), weights))
    return out


def _local_font_css(family: str, weights: list[int], root: Path, cache: Cache
                    ) -> tuple[str, str] | None:
    """Copy ``family`` from npm ``@fontsource`` into the site; (css path, package@version)."""
    slug = re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-")
    package = f"@fontsource/{slug}"
    try:
        folder = cache.npm_package(package, "latest")
    except BundleError:
        return None
    version = str(_read_json(folder / "package.json").get("version", "?"))
    rules = []
    dest = root / FONTS_DIR / slug
    dest.mkdir(parents=True, exist_ok=True)
    for weight in weights:
        candidates = sorted((folder / "files").glob(f"{slug}-latin-{weight}-normal.woff2"))
        if not candidates:
            continue
        shutil.copyfile(candidates[0], dest / candidates[0].name)
        rules.append(f"@font-face {{ font-family: '{family}'; font-style: normal; "
                     f"font-weight: {weight}; font-display: swap; "
                     f"src: url('./{slug}/{candidates[0].name}') format('woff2'); }}")
    if not rules:
        return None
    css = root / FONTS_DIR / f"{slug}.css"
    css.write_text("\n".join(rules) + "\n", encoding="utf-8")
    return f"{FONTS_DIR}/{slug}.css", f"{package}@{version}"


def _relative(from_file: Path, root: Path, target: str) -> str:
    depth = len(from_file.relative_to(root).parts) - 1
    return "../" * depth + target if depth else "./" + target


def localize_fonts(root: Path, cache: Cache, report: ImportReport) -> None:
    """Replace Google Fonts links (HTML ``<link>``, CSS ``@import``, also minified and
    inside CSS that a bundler compiled into JS) with local copies."""
    done: dict[str, list[str]] = {}

    def local_for(url: str) -> list[str]:
        if url not in done:
            found = []
            for family, weights in _google_families(url):
                local = _local_font_css(family, weights, root, cache)
                if local is None:
                    report.dropped.append({"what": f"font {family}", "source": url,
                                           "why": "no local copy on the registry; the "
                                                  "browser's own font is used"})
                    continue
                found.append(local[0])
                report.localized.append({"what": f"font {family}", "source": url,
                                         "local": f"{local[0]} ({local[1]})"})
            done[url] = found
        return done[url]

    for path in sorted(root.rglob("*")):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in {".html", ".htm", ".css", ".js"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if "fonts.g" not in text:
            continue

        def link(match: re.Match[str], path: Path = path) -> str:
            tag = match.group(0)
            href = _HREF.search(tag)
            if not href or "fonts.g" not in href.group(1):
                return tag
            url = href.group(1)
            if not _GOOGLE_CSS.match(url):   # preconnect hints and the like
                report.dropped.append({"what": "a link to Google Fonts", "source": url,
                                       "why": "a connection hint; nothing to load offline"})
                return ""
            return "".join(f'<link rel="stylesheet" href="{_relative(path, root, css)}">'
                           for css in local_for(url))

        def css_import(match: re.Match[str], path: Path = path) -> str:
            return "".join(f"@import url('{_relative(path, root, css)}');"
                           for css in local_for(match.group(1)))

        def js_css_import(match: re.Match[str]) -> str:
            # CSS that a bundler compiled into JS (css-loader) is injected into the page
            # as a <style>, so its @import resolves against the page, not the JS file: the
            # local copy is named from the site's root, where the kiosk serves bundles.
            # No quotes, so the JS string literal around it stays intact.
            return "".join(f"@import url(/{css});" for css in local_for(match.group(1)))

        if suffix == ".js":
            new = _CSS_IMPORT.sub(js_css_import, text)
        else:
            new = _LINK_TAG.sub(link, text) if suffix != ".css" else text
            new = _CSS_IMPORT.sub(css_import, new)
        if new != text:
            path.write_text(new, encoding="utf-8")


def drop_sharing_url(root: Path, report: ImportReport) -> None:
    """Remove the site's own ``sharing_service_api_url`` (e.g. the public service's).

    The kiosk answers that setting in every ``jupyter-lite.json`` with its own address
    for the Host each browser used, so the site's value would never be seen; left in
    the files it would only be an outside address.
    """
    for path in sorted(root.rglob("jupyter-lite.json")):
        data = _read_json(path)
        config = _config_data(data)
        url = config.pop("sharing_service_api_url", None)
        if url is None:
            continue
        _write_json(path, data)
        report.dropped.append({"what": "the site's sharing_service_api_url",
                               "source": f"{path.relative_to(root).as_posix()}: {url}",
                               "why": "the kiosk answers it with its own address per Host"})


def warn_two_share_uis(report: ImportReport) -> None:
    """Warn when the kiosk's extension joins a site that shares by itself.

    A site that set ``sharing_service_api_url`` brings its own Share UI (Jupyter
    Everywhere does). With the kiosk's extension too, both Share buttons are on screen and
    each makes its own link for the same notebook (seen with Jupyter Everywhere: its
    Share made one share, the kiosk's extension a second one with another code).
    """
    own = [d["source"] for d in report.dropped
           if d["what"] == "the site's sharing_service_api_url"]
    if own and report.kiosk_extension:
        report.warnings.append({
            "where": own[0].split(":", 1)[0],
            "what": "the site shares by itself (it set sharing_service_api_url), and the "
                    "kiosk's extension adds a second Share button: each makes its own link "
                    "for the same notebook; import with --no-kiosk-extension to keep only "
                    "the site's (it shares through the kiosk all the same)"})


# ---------------------------------------------------------------------------------------
# 5. the kiosk's extension

def _extension_words(report: ImportReport) -> str:
    if report.kiosk_extension:
        return "added"
    return "kernel set-up only (its Share UI disabled)" if report.kernel_setup else "left out"


def add_extension(root: Path, extension_dir: Path, report: ImportReport, *,
                  share_ui: bool = True) -> None:
    """Copy the kiosk's prebuilt labextension into the site and register it.

    Without ``share_ui`` its Share plugin (``<name>:plugin``) goes into the site's
    ``disabledExtensions``: a site with its own Share button keeps only that one, and its
    kernels still get the kiosk's set-up (a plugin of its own in the same extension).
    """
    meta = _read_json(extension_dir / "package.json")
    name = str(meta.get("name", ""))
    build = meta.get("jupyterlab", {}).get("_build") if isinstance(meta.get("jupyterlab"),
                                                                   dict) else None
    if not name or not isinstance(build, dict) or "load" not in build:
        raise BundleError(f"{extension_dir}: not a built labextension (run 'make extension')")
    dest = root / "extensions" / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(extension_dir, dest, ignore=shutil.ignore_patterns("*.map",
                                                                        ".kiosk-build-stamp"))
    path = root / "jupyter-lite.json"
    data = _read_json(path)
    config = _config_data(data)
    entries = [e for e in config.get("federated_extensions", [])
               if not (isinstance(e, dict) and e.get("name") == name)]
    entry = {"name": name, **{k: build[k] for k in ("load", "extension", "style")
                              if k in build}}
    config["federated_extensions"] = [*entries, entry]
    share_plugin = f"{name}:plugin"
    disabled = [e for e in config.get("disabledExtensions", []) if e != share_plugin]
    if not share_ui:
        disabled.append(share_plugin)
    if disabled or "disabledExtensions" in config:
        config["disabledExtensions"] = disabled
    _write_json(path, data)
    add_extension_catalogs(root)  # in the languages whose JupyterLab pack the site carries
    report.kiosk_extension = share_ui
    report.kernel_setup = True
    report.localized.append({"what": "the kiosk extension", "source": str(extension_dir),
                             "local": f"extensions/{name}"})


# ---------------------------------------------------------------------------------------
# 6. the scan

def read_allow_list(path: Path | None) -> list[Allowance]:
    """The teacher's reviewed list: ``{"allow": [{"path", "host", "reason"}, ...]}``."""
    if path is None:
        return []
    data = _read_json(path)
    items = data.get("allow")
    if not isinstance(items, list):
        raise BundleError(f"{path}: expected {{\"allow\": [{{\"path\", \"host\", "
                          "\"reason\"}}, ...]}")
    return [Allowance.parse(item, str(path)) for item in items]


def scan(root: Path, allow: list[Allowance], report: ImportReport) -> None:
    """Sort every outside reference into allowed and refused (recorded in ``report``)."""
    used: set[Allowance] = set()
    for ref in verify.outside_references(root):
        rule = next((a for a in allow if ref.kind == "code" and a.path == ref.path
                     and a.host == ref.host), None)
        if rule is not None:
            used.add(rule)
            report.allowed.append({"path": ref.path, "line": ref.line, "host": ref.host,
                                   "reason": rule.reason,
                                   "sha256": sha256_file(root / ref.path)})
        else:
            report.refused.append({"path": ref.path, "line": ref.line, "host": ref.host,
                                   "kind": ref.kind, "what": ref.what})
    for rule in allow:
        if rule not in used:
            report.dropped.append({"what": "an allow-list entry", "source":
                                   f"{rule.path} {rule.host}",
                                   "why": "matched nothing in this site"})


def _candidates(report: ImportReport) -> dict[str, Any]:
    """A starting allow-list for review: only references in code (never loads)."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for item in report.refused:
        if item["kind"] == "code":
            seen.setdefault((item["path"], item["host"]), {
                "path": item["path"], "host": item["host"],
                "reason": f"REVIEW line {item['line']}: {item['what']}"})
    return {"allow": list(seen.values())}


# ---------------------------------------------------------------------------------------
# the whole import

def _bundle_name(options: ImportOptions) -> str:
    base = options.name or re.sub(r"(\.tar\.gz|\.tgz|\.tar|\.zip)$", "",
                                  options.source.name.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", base).strip("-")[:40] or "site"
    return f"{slug}-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}"


def _prepare(root: Path, options: ImportOptions, cache: Cache, progress: Progress,
             report: ImportReport) -> tuple[dict[str, Any], Path]:
    """Steps 2-5: runtime, fonts, extension; the manifest's pyodide section and lock."""
    report.jupyterlite = jupyterlite_version(root)
    progress.say(f"a JupyterLite {report.jupyterlite} site")
    progress.step("making the Python runtime local")
    runtime = find_runtime(root)
    report.pyodide = runtime.version
    progress.say(f"the site loads Pyodide {runtime.version} from {runtime.origin}")
    info = localize_runtime(root, runtime, options=options, cache=cache, progress=progress,
                            report=report)
    official_lock = Path(info.pop("official_lock"))
    progress.step("replacing outside fonts")
    localize_fonts(root, cache, report)
    drop_sharing_url(root, report)
    progress.step("adding the kiosk extension" if options.extension_dir
                  else "leaving out the kiosk extension")
    if options.extension_dir is not None:
        add_extension(root, options.extension_dir, report, share_ui=options.share_ui)
    else:
        report.warnings.append({
            "where": "jupyter-lite.json",
            "what": "no kiosk extension: kernels get no kiosk set-up, so time.sleep spins "
                    "a core and Python's downloads and files do not go through the kiosk "
                    "on plain HTTP (build it with 'make extension' and import again)"})
    warn_two_share_uis(report)
    _slim(root)
    _finish_config(root)
    return info, official_lock


def _refuse(out_dir: Path, name: str, report: ImportReport) -> BundleError:
    failed = out_dir / f"{name}.import-failed.json"
    _write_json(failed, {**report.to_json(), "candidates": _candidates(report)})
    listing = "\n  ".join(f"{r['path']}:{r['line']}: {r['what']}" for r in report.refused[:30])
    more = len(report.refused) - 30
    return BundleError(
        f"the site would still reach outside the kiosk ({len(report.refused)} places):\n  "
        f"{listing}" + (f"\n  … and {more} more" if more > 0 else "")
        + f"\nThe full report is {failed}; its 'candidates' list is a start for --allow FILE "
        "(review each: allow only references that are never fetched)")


def _seal(root: Path, options: ImportOptions, pyodide_info: dict[str, Any], *,
          official_lock: Path, report: ImportReport, progress: Progress) -> Manifest:
    """Step 7: report files, compression, manifest, full verification."""
    _write_json(root / REPORT_JSON, report.to_json())
    (root / REPORT_TEXT).write_text(report.text(), encoding="utf-8")
    progress.step("compressing")
    stats = compress_tree(root, progress=progress.bar,
                          cache_dir=options.cache_dir.resolve() / "compressed")
    progress.say(f"{stats.files} files, {stats.raw / 2**20:.1f} MiB")
    progress.step("writing the manifest and verifying")
    manifest = Manifest(
        profile="imported",
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        versions={"jupyterlite_core": report.jupyterlite, "pyodide": report.pyodide,
                  "python": Lock.read(root / PYODIDE_DIR / LOCK_NAME).python},
        files=describe_files(root),
        extra={"pyodide": pyodide_info, "extension": report.kiosk_extension,
               "import": {"source": report.source,
                          "allowed": [{k: a[k] for k in ("path", "host", "sha256")}
                                      for a in report.allowed]}})
    write_manifest(root, manifest)
    problems = verify.verify_full(root, official_lock=official_lock)
    if problems:
        raise BundleError("the imported site fails verification:\n  "
                          + "\n  ".join(str(p) for p in problems[:20]))
    return manifest


def import_site(options: ImportOptions, progress: Progress | None = None) -> ImportResult:
    """Import one site; raise :class:`BundleError` saying what failed and why."""
    progress = progress or Progress(STEPS)
    source = options.source.expanduser().resolve()
    if not source.exists():
        raise BundleError(f"{options.source}: no such file or folder")
    out_dir = options.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    allow = read_allow_list(options.allow_file)
    cache = Cache(options.cache_dir.resolve(), say=progress.say)
    name = _bundle_name(options)
    work = out_dir / f".import-{name}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    report = ImportReport(source=str(options.source))
    try:
        progress.step(f"unpacking {source.name}")
        unpack_source(source, work)
        root = find_site_root(work)
        pyodide_info, official_lock = _prepare(root, options, cache, progress, report)
        progress.step("looking for anything that would leave the kiosk")
        scan(root, allow, report)
        if report.refused:
            raise _refuse(out_dir, name, report)
        manifest = _seal(root, options, pyodide_info, official_lock=official_lock,
                         report=report, progress=progress)
        progress.step("moving the bundle into place")
        final = out_dir / name
        root.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    activated = options.activate or active.current_bundle(out_dir) is None
    if activated:
        active.set_current(out_dir, final.name)
        progress.say(f"{final.name} is now the active bundle")
    progress.finish_step()
    return ImportResult(final, manifest, report, activated)
