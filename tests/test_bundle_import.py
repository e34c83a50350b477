"""`kiosk bundle import`: a JupyterLite site built elsewhere becomes an offline kiosk bundle.

The sites are built inside the tests from public registry packages (jupyterlite-core and
jupyterlite-pyodide-kernel from PyPI, in the core recipe's cached build environment),
then made hostile the way real sites are: Pyodide from a CDN, a Google Font, and an
extension carrying a CDN address in code that never fetches it. Downloads (npm
``pyodide``, ``@fontsource/roboto``, PyPI wheels) go to the bundle cache, as for builds.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.bundle.active import current_bundle
from kiosk.bundle.fetch import Cache
from kiosk.bundle.manifest import describe_files, read_manifest, write_manifest
from kiosk.bundle.profiles import default_cache_dir, load_profile
from kiosk.bundle.site_import import (
    ImportReport,
    _google_families,
    drop_sharing_url,
    find_site_root,
    startup_installs,
    unpack_source,
    warn_two_share_uis,
)
from kiosk.errors import BundleError
from tests.browserlib import run_scenario
from tests.conftest import REPO, KioskProcess

EXTENSION = REPO / "extension" / "dist" / "labextension"
CDN_PYODIDE = "https://cdn.jsdelivr.net/pyodide/v314.0.6/full/pyodide.mjs"
FONT_LINK = ('<link rel="preconnect" href="https://fonts.gstatic.com">'
             '<link href="https://fonts.googleapis.com/css2?family=Roboto:wght@400;700'
             '&display=swap" rel="stylesheet">')
INERT = 'var pdfHelp = "https://cdnjs.cloudflare.com/ajax/libs/pdf.js/4.0.0/pdf.worker.js";'
NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python", "display_name": "Python (Pyodide)",
                                "language": "python"}},
    "cells": [{"cell_type": "code", "id": "a1", "metadata": {}, "execution_count": None,
               "outputs": [], "source": "import sys\nprint('imported python', "
                                        "sys.version_info[:2], sum(range(10)))"}],
}


def kiosk_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=600, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"kiosk {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def build_site(dest: Path, *, pyodide_url: str | None = None) -> Path:
    """`jupyter lite build` a small site into ``dest``, then add a Google Font and an
    inert CDN string in the Pyodide kernel extension's code."""
    profile = load_profile(REPO / "bundles", "core")
    venv = Cache(default_cache_dir()).venv("core", profile.requirements)
    lite = dest.parent / f"{dest.name}-lite"
    (lite / "content").mkdir(parents=True)
    (lite / "content" / "Hello.ipynb").write_text(json.dumps(NOTEBOOK), encoding="utf-8")
    config: dict[str, object] = {"exposeAppInBrowser": True}
    if pyodide_url:
        config["litePluginSettings"] = {
            "@jupyterlite/pyodide-kernel-extension:kernel": {"pyodideUrl": pyodide_url}}
    (lite / "jupyter-lite.json").write_text(json.dumps(
        {"jupyter-lite-schema-version": 0, "jupyter-config-data": config}), encoding="utf-8")
    subprocess.run([venv / "bin" / "jupyter", "lite", "build", "--output-dir", dest,
                    "--contents", lite / "content", "--no-sourcemaps", "--apps", "lab"],
                   cwd=lite, check=True, capture_output=True, timeout=300,
                   env={**os.environ, "JUPYTERLITE_NO_LIBARCHIVE": "1"})
    index = dest / "lab" / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace("</head>", FONT_LINK + "</head>",
                                                               1), encoding="utf-8")
    chunk = sorted((dest / "extensions" / "@jupyterlite" / "pyodide-kernel-extension"
                    / "static").glob("[0-9]*.js"))[0]
    with chunk.open("a", encoding="utf-8") as fh:
        fh.write("\n" + INERT + "\n")
    return dest


def import_with_review(site: Path, bundles: Path, *extra: str) -> Path:
    """Import as a teacher does: the first try fails and lists the inert reference; the
    reviewed allow-list lets the second try through. Returns the new bundle."""
    first = kiosk_cli("bundle", "import", str(site), "--bundles-dir", str(bundles), *extra,
                      check=False)
    assert first.returncode == 2, first.stderr
    assert "cdnjs.cloudflare.com" in first.stderr and ".js:" in first.stderr
    failed = sorted(bundles.glob("*.import-failed.json"))
    candidates = json.loads(failed[-1].read_text(encoding="utf-8"))["candidates"]
    assert [c["host"] for c in candidates["allow"]] == ["cdnjs.cloudflare.com"]
    for item in candidates["allow"]:
        item["reason"] = "a PDF library's help text; never fetched"
    allow = bundles.parent / "allow.json"
    allow.write_text(json.dumps(candidates), encoding="utf-8")
    kiosk_cli("bundle", "import", str(site), "--bundles-dir", str(bundles), "--allow",
              str(allow), *extra)
    found = current_bundle(bundles)
    assert found is not None
    return found


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "site", pyodide_url: str | None = None) -> Path:
        return build_site(tmp_path / name, pyodide_url=pyodide_url)

    return make


@pytest.mark.bundle
@pytest.mark.slow
def test_import_localizes_runtime_and_fonts_and_needs_review_for_inert_urls(
        make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site()   # no pyodideUrl: the kernel's built-in CDN default
    bundles = tmp_path / "bundles"
    bundle = import_with_review(site, bundles, "--extension", str(EXTENSION))

    config = json.loads((bundle / "jupyter-lite.json").read_text(encoding="utf-8"))
    data = config["jupyter-config-data"]
    kernel = data["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.mjs"
    assert kernel["disablePyPIFallback"] is True
    assert "@kiosk/share-extension" in [e["name"] for e in data["federated_extensions"]]
    lock = json.loads((bundle / "static/pyodide/pyodide-lock.json").read_text(encoding="utf-8"))
    assert {"micropip", "ipython", "jedi", "comm", "pyodide-http"} <= set(lock["packages"])
    html = (bundle / "lab" / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html
    assert '<link rel="stylesheet" href="../static/kiosk-fonts/roboto.css">' in html
    assert sorted(p.name for p in (bundle / "static/kiosk-fonts/roboto").iterdir()) == [
        "roboto-latin-400-normal.woff2", "roboto-latin-700-normal.woff2"]

    report = json.loads((bundle / "kiosk-import.json").read_text(encoding="utf-8"))
    assert report["pyodide"] == "314.0.6" and report["refused"] == []
    assert [a["host"] for a in report["allowed"]] == ["cdnjs.cloudflare.com"]
    assert report["allowed"][0]["line"] > 1
    text = (bundle / "kiosk-import.txt").read_text(encoding="utf-8")
    assert "font Roboto" in text and "Allowed (reviewed, never fetched): 1" in text

    good = kiosk_cli("bundle", "verify", str(bundle))
    assert good.returncode == 0, good.stdout + good.stderr
    # The allowance holds for the reviewed bytes only: a changed file fails again, even
    # with a manifest rewritten to match it.
    allowed = bundle / report["allowed"][0]["path"]
    allowed.write_text(allowed.read_text(encoding="utf-8") + "\n//", encoding="utf-8")
    old = read_manifest(bundle)
    write_manifest(bundle, dataclasses.replace(old, files=describe_files(bundle)))
    bad = kiosk_cli("bundle", "verify", str(bundle), check=False)
    assert bad.returncode == 1
    assert "names the outside host cdnjs.cloudflare.com" in bad.stdout + bad.stderr


@pytest.mark.bundle
@pytest.mark.slow
def test_import_takes_archives_and_refuses_what_would_still_load(
        make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site(pyodide_url=CDN_PYODIDE)
    tgz = tmp_path / "school-site.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(site, arcname="school-site")
    zipped = tmp_path / "school-site.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for path in sorted(site.rglob("*")):
            zf.write(path, path.relative_to(site).as_posix())
    allow = tmp_path / "allow.json"
    chunk = next(p for p in (site / "extensions/@jupyterlite/pyodide-kernel-extension/static")
                 .glob("[0-9]*.js") if INERT in p.read_text(encoding="utf-8"))
    allow.write_text(json.dumps({"allow": [{
        "path": chunk.relative_to(site).as_posix(), "host": "cdnjs.cloudflare.com",
        "reason": "help text"}]}), encoding="utf-8")
    for source in (tgz, zipped):
        bundles = tmp_path / f"bundles-{source.suffix}"
        kiosk_cli("bundle", "import", str(source), "--bundles-dir", str(bundles),
                  "--no-kiosk-extension", "--allow", str(allow))
        bundle = current_bundle(bundles)
        assert bundle is not None and bundle.name.startswith("school-site-")
        report = json.loads((bundle / "kiosk-import.json").read_text(encoding="utf-8"))
        assert report["kiosk_extension"] is False
        # The extension's kernel set-up stays; only its Share plugin is disabled.
        assert report["kernel_setup"] is True
        lite = json.loads((bundle / "jupyter-lite.json").read_text(encoding="utf-8"))
        config = lite["jupyter-config-data"]
        assert "@kiosk/share-extension" in [e["name"] for e in config["federated_extensions"]]
        assert config["disabledExtensions"] == ["@kiosk/share-extension:plugin"]
        assert any(CDN_PYODIDE in item["source"] for item in report["localized"])

    # A script loaded from a CDN is fetched by every browser: no allow-list can pass it.
    (site / "index.html").write_text(
        (site / "index.html").read_text(encoding="utf-8").replace(
            "</head>", '<script src="https://cdn.jsdelivr.net/npm/x@1/x.js"></script></head>'),
        encoding="utf-8")
    refused = kiosk_cli("bundle", "import", str(site), "--bundles-dir",
                        str(tmp_path / "refused"), "--no-kiosk-extension", "--allow",
                        str(allow), check=False)
    assert refused.returncode == 2
    assert "index.html:" in refused.stderr and "loads a resource" in refused.stderr
    assert current_bundle(tmp_path / "refused") is None


def _tar_with(name: str, *, link: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        if link:
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    return buf.getvalue()


@pytest.mark.parametrize("member, link", [("../evil.json", False), ("/abs/evil.json", False),
                                          ("site/jupyter-lite.json", True)])
def test_unsafe_tar_members_are_refused(tmp_path: Path, member: str, link: bool) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar_with(member, link=link))
    (tmp_path / "out").mkdir()
    with pytest.raises(BundleError, match=r"unsafe path|not a plain file"):
        unpack_source(archive, tmp_path / "out")
    assert not (tmp_path / "evil.json").exists()


def test_unsafe_zip_members_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../evil.json", "{}")
    (tmp_path / "out").mkdir()
    with pytest.raises(BundleError, match="unsafe path"):
        unpack_source(archive, tmp_path / "out")
    assert not (tmp_path / "evil.json").exists()


def test_a_folder_that_is_no_site_and_an_old_site_get_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no JupyterLite site found"):
        find_site_root(tmp_path / "empty")
    old = tmp_path / "old"
    old.mkdir()
    (old / "index.html").write_text("<html></html>", encoding="utf-8")
    (old / "jupyter-lite.json").write_text(json.dumps(
        {"jupyter-config-data": {"appVersion": "0.3.2"}}), encoding="utf-8")
    proc = kiosk_cli("bundle", "import", str(old), "--bundles-dir", str(tmp_path / "b"),
                     "--no-kiosk-extension", check=False)
    assert proc.returncode == 2
    assert "jupyterlite-core 0.4" in proc.stderr
    bad_allow = tmp_path / "allow.json"
    bad_allow.write_text(json.dumps({"allow": [{"path": "x.js", "host": "example.org"}]}),
                         encoding="utf-8")
    proc = kiosk_cli("bundle", "import", str(old), "--bundles-dir", str(tmp_path / "b"),
                     "--allow", str(bad_allow), "--no-kiosk-extension", check=False)
    assert proc.returncode == 2 and "lacks reason" in proc.stderr


def test_google_font_urls_name_families_and_weights() -> None:
    assert _google_families("https://fonts.googleapis.com/css2?family=Roboto:wght@400;700"
                            "&family=Open+Sans&display=swap") == [
        ("Roboto", [400, 700]), ("Open Sans", [400])]
    assert _google_families("https://fonts.googleapis.com/css?family=Lato:300,900|Inter") == [
        ("Lato", [300, 900]), ("Inter", [400])]


@pytest.fixture
def serve_imported(kiosk_process: Callable[..., KioskProcess], make_site: Callable[..., Path],
                   tmp_path: Path) -> Callable[..., KioskProcess]:
    def serve(*extra: str) -> KioskProcess:
        site = make_site(pyodide_url=CDN_PYODIDE)
        bundles = tmp_path / "bundles"
        import_with_review(site, bundles, *extra)
        # kiosk.test: the LAN name the browser uses (an alias, or the kiosk answers 421)
        return kiosk_process("--bundles-dir", str(bundles), "--host-aliases", "kiosk.test")

    return serve


@pytest.mark.bundle
@pytest.mark.browser
@pytest.mark.slow
def test_imported_site_runs_python_offline_and_shares_with_the_kiosk_extension(
        serve_imported: Callable[..., KioskProcess], tmp_path: Path) -> None:
    kp = serve_imported("--extension", str(EXTENSION))
    result = run_scenario("bundle_notebook", {
        "url": f"http://kiosk.test:{kp.port}", "path": "Hello.ipynb", "timeoutMs": 240000,
    }, timeout=420)
    assert result["secure"] is False
    assert result["foreign"] == [], result["foreign"]
    outputs = [o["text"] for c in result["cells"] for o in c["outputs"]]
    assert outputs == ["imported python (3, 14) 45\n"], result["cells"]

    shared = run_scenario("share_flow", {"origin": f"http://kiosk.test:{kp.port}",
                                         "outDir": str(tmp_path / "shots")},
                          timeout=600)
    assert shared["secure"] is False
    link = shared["a"]["share"]["link"]
    assert link.startswith(f"http://kiosk.test:{kp.port}/lab/index.html?notebook=")
    assert any("first 42" in o for o in shared["a"]["outputs"])


@pytest.mark.bundle
@pytest.mark.browser
@pytest.mark.slow
def test_imported_site_shares_through_the_kiosk_with_its_own_share_ui(
        serve_imported: Callable[..., KioskProcess]) -> None:
    kp = serve_imported("--no-kiosk-extension")
    result = run_scenario("site_own_share", {"url": f"http://kiosk.test:{kp.port}"},
                          timeout=300)
    assert result["api"] == f"http://kiosk.test:{kp.port}/api/v1"
    assert (result["issued"], result["created"], result["read"]) == (200, 201, 200)
    assert result["source"] == 'print("shared by the site itself")'
    assert result["foreign"] == [], result["foreign"]


#: what a real site's bundler leaves (seen in Jupyter Everywhere's build): minified CSS with
#: no space after @import, and CSS compiled into JS by css-loader; both ask for a variable
#: font by axis ranges rather than listed weights
VARIABLE_FONT = ("https://fonts.googleapis.com/css2?family=Inter:ital,opsz,wght@"
                 "0,14..32,100..900;1,14..32,100..900&display=swap")


def test_google_font_axis_ranges_name_every_weight_in_them() -> None:
    assert _google_families(VARIABLE_FONT) == [("Inter", [100, 200, 300, 400, 500, 600, 700,
                                                          800, 900])]


@pytest.mark.bundle
@pytest.mark.slow
def test_import_localizes_bundler_font_imports_and_drops_the_sites_sharing_url(
        make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site(pyodide_url=CDN_PYODIDE)
    (site / "landing.css").write_text(f'@import"{VARIABLE_FONT}";body{{font-family:Inter}}',
                                      encoding="utf-8")
    chunk = sorted((site / "extensions/@jupyterlite/pyodide-kernel-extension/static")
                   .glob("[0-9]*.js"))[-1]
    with chunk.open("a", encoding="utf-8") as fh:
        fh.write(f'\nvar css = ["m1", "@import url({VARIABLE_FONT});\\nbody{{}}", ""];\n')
    config_path = site / "jupyter-lite.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["jupyter-config-data"]["sharing_service_api_url"] = "https://share.example.org/api/v1"
    config_path.write_text(json.dumps(config), encoding="utf-8")

    bundles = tmp_path / "bundles"
    bundle = import_with_review(site, bundles, "--no-kiosk-extension")

    css = (bundle / "landing.css").read_text(encoding="utf-8")
    assert css.startswith("@import url('./static/kiosk-fonts/inter.css');"), css[:120]
    js = (bundle / chunk.relative_to(site)).read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in js
    # injected as a <style> into the page: named from the root, no quotes inside the string
    assert '"@import url(/static/kiosk-fonts/inter.css);\\nbody{}"' in js
    fonts = sorted(p.name for p in (bundle / "static/kiosk-fonts/inter").iterdir())
    assert fonts == [f"inter-latin-{w}-normal.woff2" for w in range(100, 1000, 100)]
    data = json.loads((bundle / "jupyter-lite.json").read_text(encoding="utf-8"))
    assert "sharing_service_api_url" not in data["jupyter-config-data"]
    report = json.loads((bundle / "kiosk-import.json").read_text(encoding="utf-8"))
    assert report["refused"] == []
    assert any(d["what"] == "the site's sharing_service_api_url"
               and "share.example.org" in d["source"] for d in report["dropped"])
    assert kiosk_cli("bundle", "verify", str(bundle)).returncode == 0


#: what Jupyter Everywhere's extension sends to every new Python kernel (minified)
STARTUP_PIP = ('n.requestExecute({allow_stdin:!1,code:["%pip install -y pyodide-http '
               'requests","import pyodide_http","pyodide_http.patch_all()"].join("\\n"),'
               'silent:!0})')


def test_startup_installs_names_the_packages_a_sites_code_installs(tmp_path: Path) -> None:
    ext = tmp_path / "extensions" / "je" / "static"
    ext.mkdir(parents=True)
    (ext / "647.js").write_text("var a=1;\n" + STARTUP_PIP + "\n", encoding="utf-8")
    (ext / "9.js").write_text('x="%micropip install Foo_Bar[extra]>=1.0 ./local.whl '
                              'https://example.org/x.whl --pre";', encoding="utf-8")
    (tmp_path / "notes.json").write_text('{"help": "%pip install ignored"}', encoding="utf-8")
    (tmp_path / "plain.js").write_text('print("pip install is not a magic")', encoding="utf-8")

    found = startup_installs(tmp_path)

    assert [(f.path, f.line, f.packages) for f in found] == [
        ("extensions/je/static/647.js", 2, ("pyodide-http", "requests")),
        ("extensions/je/static/9.js", 1, ("foo-bar",)),
    ]
    assert found[0].command == "%pip install -y pyodide-http requests"


@pytest.mark.bundle
@pytest.mark.slow
def test_import_ships_what_the_sites_code_installs_in_each_new_kernel(
        make_site: Callable[..., Path], tmp_path: Path) -> None:
    """Jupyter Everywhere installs pyodide-http and requests in every new kernel; offline
    that cell failed, and JupyterLite then dropped the student's queued cell."""
    site = make_site()
    chunk = sorted((site / "extensions/@jupyterlite/pyodide-kernel-extension/static")
                   .glob("[0-9]*.js"))[-1]
    with chunk.open("a", encoding="utf-8") as fh:
        fh.write("\n" + STARTUP_PIP + ';var other="%pip install no-such-package-in-pyodide";\n')

    bundle = import_with_review(site, tmp_path / "bundles", "--no-kiosk-extension")

    lock = json.loads((bundle / "static/pyodide/pyodide-lock.json").read_text(encoding="utf-8"))
    shipped = set(lock["packages"])
    assert {"pyodide-http", "requests", "urllib3", "idna", "certifi",
            "charset-normalizer"} <= shipped
    for name in ("pyodide-http", "requests"):
        assert (bundle / "static/pyodide" / lock["packages"][name]["file_name"]).is_file()
    report = json.loads((bundle / "kiosk-import.json").read_text(encoding="utf-8"))
    where = f"{chunk.relative_to(site).as_posix()}:"
    installs = [i for i in report["localized"]
                if i["what"] == "packages the site installs in each new kernel"]
    assert len(installs) == 1 and installs[0]["source"].startswith(where)
    assert installs[0]["local"].startswith("pyodide-http, requests ")
    assert [w["where"].startswith(where) and "no-such-package-in-pyodide" in w["what"]
            for w in report["warnings"]] == [True]
    assert "Warnings: 1" in (bundle / "kiosk-import.txt").read_text(encoding="utf-8")
    assert kiosk_cli("bundle", "verify", str(bundle)).returncode == 0


@pytest.mark.parametrize("kiosk_extension", [True, False])
def test_a_site_that_shares_by_itself_gets_a_warning_with_the_kiosk_extension(
        tmp_path: Path, kiosk_extension: bool) -> None:
    (tmp_path / "jupyter-lite.json").write_text(json.dumps({
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {"sharing_service_api_url": "https://share.example.org/api/v1"},
    }), encoding="utf-8")
    report = ImportReport(source="site", kiosk_extension=kiosk_extension)

    drop_sharing_url(tmp_path, report)
    warn_two_share_uis(report)

    if kiosk_extension:
        assert [w["where"] for w in report.warnings] == ["jupyter-lite.json"]
        assert "--no-kiosk-extension" in report.warnings[0]["what"]
        assert "Warnings: 1" in report.text()
    else:
        assert report.warnings == []
    assert [d["what"] for d in report.dropped] == ["the site's sharing_service_api_url"]


@pytest.mark.bundle
@pytest.mark.browser
@pytest.mark.slow
def test_a_cell_run_while_the_kernel_starts_answers_after_the_sites_start_up_install(
        make_site: Callable[..., Path], kiosk_process: Callable[..., KioskProcess],
        tmp_path: Path) -> None:
    """What a student saw in Jupyter Everywhere served by the kiosk: a cell run while the
    kernel started stayed [ ] for good, because the site's start-up install failed offline
    and JupyterLite dropped the queued cell. The scenario plays the site's extension."""
    site = make_site(pyodide_url=CDN_PYODIDE)
    chunk = sorted((site / "extensions/@jupyterlite/pyodide-kernel-extension/static")
                   .glob("[0-9]*.js"))[-1]
    with chunk.open("a", encoding="utf-8") as fh:
        fh.write("\n" + STARTUP_PIP + "\n")
    bundles = tmp_path / "bundles"
    import_with_review(site, bundles, "--no-kiosk-extension")
    kp = kiosk_process("--bundles-dir", str(bundles), "--host-aliases", "kiosk.test")

    result = run_scenario("startup_cell_queue", {
        "url": f"http://kiosk.test:{kp.port}", "path": "Hello.ipynb", "timeoutMs": 240000,
    }, timeout=420)

    assert result["kernelAtRun"] != "idle" or result["siteAtRun"] != "ok", \
        "the cell must be run while the kernel starts"
    assert result["siteStartup"] == "ok", result
    assert result["outputs"] == ["imported python (3, 14) 45\n"], result
    assert result["foreign"] == [], result["foreign"]


@pytest.mark.parametrize("share_ui", [True, False])
def test_the_extension_joins_with_or_without_its_share_ui(tmp_path: Path,
                                                          share_ui: bool) -> None:
    """--no-kiosk-extension keeps the kernel set-up (a plugin of its own): the extension is
    added with only its Share plugin disabled; the site's own disabled list is kept."""
    from kiosk.bundle.site_import import ImportReport, add_extension

    site = tmp_path / "site"
    site.mkdir()
    (site / "jupyter-lite.json").write_text(json.dumps({"jupyter-config-data": {
        "federated_extensions": [], "disabledExtensions": ["other:plugin"]}}),
        encoding="utf-8")
    extension = tmp_path / "labextension"
    (extension / "static").mkdir(parents=True)
    (extension / "package.json").write_text(json.dumps({
        "name": "@kiosk/share-extension",
        "jupyterlab": {"_build": {"load": "static/remoteEntry.abc.js",
                                  "extension": "./extension"}}}), encoding="utf-8")
    report = ImportReport(source="site")
    add_extension(site, extension, report, share_ui=share_ui)
    config = json.loads((site / "jupyter-lite.json").read_text(encoding="utf-8"))[
        "jupyter-config-data"]
    assert [e["name"] for e in config["federated_extensions"]] == ["@kiosk/share-extension"]
    assert config["disabledExtensions"] == (
        ["other:plugin"] if share_ui else ["other:plugin", "@kiosk/share-extension:plugin"])
    assert (report.kiosk_extension, report.kernel_setup) == (share_ui, True)
    assert ("added" if share_ui else "kernel set-up only") in report.text()
