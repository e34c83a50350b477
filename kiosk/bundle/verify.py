"""What ``kiosk bundle verify`` checks beyond bytes: the kernel stays offline, and the
Pyodide packages are the official builds.

:func:`content_problems` runs on every verification (``kiosk serve`` included, through
:func:`kiosk.bundle.manifest.verify_bundle`); it trusts the manifest's hashes, which
that function has just checked against the files. :func:`verify_full` adds a check of
the manifest's record of the official lock against a copy of that lock (from the npm
package ``pyodide``, as the builder caches it).

"Outside addresses" are judged by what the browser would *load*, not by every URL
string: JupyterLab's code holds hundreds of documentation links and XML namespace
names that are never fetched. So: the runtime configuration (every ``jupyter-lite.json``,
the Pyodide lock, piplite indexes) may hold no absolute URL at all; HTML may not load
scripts, styles or images from elsewhere; CSS may not import or ``url()`` one; and no
code may name a CDN or package host, except for the few known defaults listed in
:data:`INERT_DEFAULTS` that the configuration overrides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.bundle.manifest import Manifest, Problem, read_manifest, sha256_file, verify_bundle
from kiosk.bundle.pyodide import LOCK_NAME, Lock, lock_problems

__all__ = [
    "Problem",
    "Reference",
    "allowed_references",
    "content_problems",
    "kernel_config_problems",
    "official_lock_problems",
    "offline_problems",
    "outside_references",
    "pyodide_problems",
    "verify_full",
]

KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
CONFIG_NAMES = frozenset({"jupyter-lite.json", LOCK_NAME})
#: the kiosk's own records at a bundle's root, which name addresses without loading them
REPORTS = frozenset({"kiosk-bundle.json", "kiosk-import.json"})
TEXT_SUFFIXES = (".js", ".mjs", ".cjs", ".html", ".htm", ".css", ".json", ".webmanifest",
                 ".svg")
#: hosts that serve code or packages: a bundle that names one would fetch from it
FETCH_HOSTS = (
    "cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "esm.sh", "cdn.skypack.dev",
    "ga.jspm.io", "fonts.googleapis.com", "fonts.gstatic.com", "pypi.org",
    "files.pythonhosted.org", "code.jquery.com", "ajax.googleapis.com",
    "cdn.plot.ly", "www.googletagmanager.com", "www.google-analytics.com",
    "stackpath.bootstrapcdn.com", "maxcdn.bootstrapcdn.com", "cdn.bokeh.org",
)
_FETCH_RE = re.compile("|".join(re.escape(h) for h in FETCH_HOSTS))
#: (file name pattern, context pattern, why it never loads anything in a kiosk)
INERT_DEFAULTS: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (re.compile(r".*\.js$"),
     re.compile(r"pyodideUrl\s*\|\|\s*[\"'`]https://cdn\.jsdelivr\.net/pyodide/"),
     "the kernel's default pyodideUrl; every jupyter-lite.json sets a local one"),
    (re.compile(r"pyodide\.m?js$|pyodide\.asm\.m?js$"),
     re.compile(r"(setCdnUrl\(|cdnUrl\s*=\s*\w+\(\w+\.packageBaseUrl\s*\?\?)\s*"
                r"[\"'`]https://cdn\.jsdelivr\.net/pyodide/"),
     "Pyodide's package fallback, used only under Node.js; a browser loads packages "
     "from the lock's own folder"),
    (re.compile(r".*\.schema\.json$"),
     re.compile(r"\"(default|description)\"\s*:\s*\"[^\"]*https://(cdn\.jsdelivr\.net/pyodide/"
                r"|pypi\.org/)"),
     "a JSON schema documenting the kernel settings that jupyter-lite.json overrides"),
)
_ABS_URL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_HTML_LOAD = re.compile(r"""(?:src|href|data)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_CSS_LOAD = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])\s*(?:https?:)?//""",
                       re.IGNORECASE)


def _strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


@dataclass(frozen=True, slots=True)
class Reference:
    """One place where a site names an outside address.

    ``kind`` is ``config`` (runtime configuration), ``load`` (HTML or CSS that loads it)
    or ``code`` (a fetch host named in code, which may or may not ever be fetched).
    """

    path: str
    line: int
    kind: str
    host: str
    what: str

    def problem(self) -> Problem:
        return Problem(self.path, self.what)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _host(url: str) -> str:
    match = re.match(r"\s*(?:https?:)?//([^/\s\"'`)?#]+)", url, re.IGNORECASE)
    return match.group(1).lower() if match else ""


def _config_refs(rel: str, text: str) -> list[Reference]:
    try:
        data = json.loads(text)
    except ValueError:
        return [Reference(rel, 1, "config", "", "not valid JSON")]
    refs = []
    for where, value in _strings(data):
        if _ABS_URL.match(value):
            pos = text.find(json.dumps(value)[1:-1][:40])
            refs.append(Reference(rel, _line(text, max(pos, 0)), "config", _host(value),
                                  f"{where} is an outside address: {value[:100]}"))
    return refs


def _code_refs(rel: str, text: str) -> list[Reference]:
    refs = []
    name = rel.rsplit("/", 1)[-1]
    for match in _FETCH_RE.finditer(text):
        window = text[max(0, match.start() - 80): match.end() + 20]
        if any(fp.match(name) and cp.search(window) for fp, cp, _ in INERT_DEFAULTS):
            continue
        snippet = text[max(0, match.start() - 40): match.end() + 30].replace("\n", " ")
        refs.append(Reference(rel, _line(text, match.start()), "code", match.group(0),
                              f"names the outside host {match.group(0)}: …{snippet}…"))
    return refs


def outside_references(site: Path, files: list[str] | None = None) -> list[Reference]:
    """Every place where the site names an outside address it may reach (blocking)."""
    if files is None:
        files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*")
                       if p.is_file() and not p.name.endswith((".br", ".gz")))
    refs: list[Reference] = []
    for rel in files:
        if not rel.lower().endswith(TEXT_SUFFIXES) or rel in REPORTS:
            continue
        text = (site / rel).read_text(encoding="utf-8", errors="replace")
        name = rel.rsplit("/", 1)[-1]
        if name in CONFIG_NAMES or rel.endswith("pypi/all.json"):
            refs += _config_refs(rel, text)
        if rel.endswith((".html", ".htm", ".svg")):
            refs += [Reference(rel, _line(text, m.start()), "load",
                               _host("//" + text[m.end(): m.end() + 200]),
                               "loads a resource from an outside address")
                     for m in _HTML_LOAD.finditer(text)]
        if rel.endswith((".css", ".html", ".htm")):
            refs += [Reference(rel, _line(text, m.start()), "load",
                               _host("//" + text[m.end(): m.end() + 200]),
                               "CSS loads from an outside address")
                     for m in _CSS_LOAD.finditer(text)]
        refs += _code_refs(rel, text)
    return refs


def offline_problems(site: Path, files: list[str] | None = None,
                     allowed: frozenset[tuple[str, str]] = frozenset()) -> list[Problem]:
    """Every place where the site would reach outside the kiosk (blocking).

    ``allowed`` holds reviewed ``(path, host)`` pairs of hosts named in code that is
    never fetched (recorded by ``kiosk bundle import``); loads and configuration are
    never allowed.
    """
    return [ref.problem() for ref in outside_references(site, files)
            if not (ref.kind == "code" and (ref.path, ref.host) in allowed)]


def allowed_references(manifest: Manifest) -> frozenset[tuple[str, str]]:
    """The reviewed inert references an imported bundle's manifest records."""
    info = manifest.extra.get("import")
    items = info.get("allowed", []) if isinstance(info, dict) else []
    out = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        rel, host, sha = item.get("path"), item.get("host"), item.get("sha256")
        record = manifest.files.get(str(rel))
        # An allowance holds only for the exact file content that was reviewed.
        if record is not None and record.sha256 == sha and isinstance(host, str):
            out.add((str(rel), host))
    return frozenset(out)


def kernel_config_problems(site: Path) -> list[Problem]:
    """The root ``jupyter-lite.json`` must point the kernel at the local Pyodide, with no PyPI."""
    rel = "jupyter-lite.json"
    try:
        data = json.loads((site / rel).read_text(encoding="utf-8"))
        settings = data["jupyter-config-data"]["litePluginSettings"][KERNEL_PLUGIN]
    except (OSError, ValueError, KeyError, TypeError):
        return [Problem(rel, f"no litePluginSettings for {KERNEL_PLUGIN}")]
    problems = []
    url = str(settings.get("pyodideUrl", ""))
    if not url.startswith("./") or not (site / url).is_file():
        problems.append(Problem(rel, f"pyodideUrl {url!r} is not a file of the bundle"))
    if settings.get("disablePyPIFallback") is not True:
        problems.append(Problem(rel, "disablePyPIFallback is not true"))
    return problems


def pyodide_problems(bundle_dir: Path, manifest: Manifest) -> list[Problem]:
    """The shipped lock against the files and the official hashes the manifest records."""
    info = manifest.extra.get("pyodide")
    if not isinstance(info, dict):
        return [Problem("kiosk-bundle.json", "no 'pyodide' section: not built by "
                        "'kiosk bundle build'")]
    folder = str(info.get("dir", "static/pyodide")).strip("/")
    rel_lock = f"{folder}/{LOCK_NAME}"
    if rel_lock not in manifest.files:
        return [Problem(rel_lock, "missing")]
    prefix = folder + "/"
    hashes = {rel[len(prefix):]: rec.sha256 for rel, rec in manifest.files.items()
              if rel.startswith(prefix) and "/" not in rel[len(prefix):]}
    lock = Lock.read(bundle_dir / rel_lock)
    problems = [Problem(f"{prefix}{msg.split(':', 1)[0]}", msg.split(": ", 1)[-1])
                for msg in lock_problems(lock, hashes, dict(info.get("official", {})),
                                         dict(info.get("from_pypi", {})),
                                         dict(info.get("built", {})))]
    if not any(k.startswith("comm") for k in lock.packages):
        problems.append(Problem(rel_lock, "does not list comm, which the kernel installs "
                                          "at every start"))
    return problems


def content_problems(bundle_dir: Path, manifest: Manifest) -> list[Problem]:
    """Offline and Pyodide checks (the manifest's hashes must already be verified)."""
    return (offline_problems(bundle_dir, sorted(manifest.files),
                             allowed_references(manifest))
            + kernel_config_problems(bundle_dir) + pyodide_problems(bundle_dir, manifest))


def official_lock_problems(manifest: Manifest, official_lock: Path) -> list[Problem]:
    """The manifest's record of official hashes against a copy of the official lock."""
    info = manifest.extra.get("pyodide", {})
    official = Lock.read(official_lock).by_file()
    problems = []
    if sha256_file(official_lock) != info.get("official_lock_sha256"):
        problems.append(Problem(str(official_lock), "is not the lock the bundle was "
                                                    "built against (sha256 differs)"))
    for name, sha in sorted(dict(info.get("official", {})).items()):
        entry = official.get(name)
        if entry is None or entry["sha256"] != sha:
            problems.append(Problem(f"{info.get('dir', 'static/pyodide')}/{name}",
                                    f"sha256 differs from the official lock {official_lock}"))
    return problems


def verify_full(bundle_dir: Path, official_lock: Path | None = None) -> list[Problem]:
    """Everything ``kiosk bundle verify`` checks (blocking). Empty: the bundle is good."""
    manifest = read_manifest(bundle_dir)
    if "pyodide" not in manifest.extra:
        return [Problem("kiosk-bundle.json", "no 'pyodide' section: not a bundle built by "
                        "'kiosk bundle build'")]
    problems = verify_bundle(bundle_dir, manifest)
    if official_lock is not None:
        problems += official_lock_problems(manifest, official_lock)
    return problems
