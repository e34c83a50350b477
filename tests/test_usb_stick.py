"""The USB stick made for real: wheel sets complete per platform, and a clean start offline.

A module-scoped fixture makes the stick once (``kiosk usb make``, all platforms and
Python versions) with its download cache in ``~/.cache/kiosk/usb`` (or
``$KIOSK_USB_CACHE``): a cold cache needs the package index for a few minutes, a
warm one makes the stick in seconds. The bundle is the real one when ``bundles/dist``
has one active, else a small fake bundle. The stick carries Debian's Python for
Linux x86-64 (``--with-python``; its packages are cached beside the wheels).
"""

from __future__ import annotations

import base64
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from kiosk.bundle.active import current_bundle
from kiosk.usb.layout import plain_files
from kiosk.usb.make import MakeOptions, MakeReport, default_cache_dir, make_stick
from kiosk.usb.platforms import PLATFORMS, PYTHON_VERSIONS, Platform
from kiosk.usb.verify import verify_stick
from kiosk.usb.wheels import check_closure, read_wheel
from tests.fakebundle import make_bundle

REPO = Path(__file__).resolve().parent.parent
# Outside the work tree, so CI's fresh clones on the same machine reuse the downloads.
CACHE = Path(os.environ.get("KIOSK_USB_CACHE") or default_cache_dir())
REAL_BUNDLES = REPO / "bundles" / "dist"
PAIRS = [(p, v) for p in PLATFORMS for v in PYTHON_VERSIONS]
#: platforms PyPI has no wheels for (November 2026): zeroconf 0.150+ ships none for
#: Intel Macs. The stick then carries none for it and its launcher says so.
KNOWN_GAPS = {"macos-x86_64": "zeroconf>=0.150"}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> MakeReport:
    bundles = REAL_BUNDLES
    if current_bundle(bundles) is None:
        bundles = tmp_path_factory.mktemp("bundles")
        make_bundle(bundles)
    dest = tmp_path_factory.mktemp("usb") / "STICK"
    report = make_stick(MakeOptions(dest=dest, bundles_dir=bundles, cache_dir=CACHE,
                                    with_python=("linux-x86_64",)))
    sizes = {part: round(size / 1048576, 1) for part, size in report.sizes().items()}
    print("USB stick sizes (MiB):", json.dumps(sizes),
          f"total {report.total_bytes / 1048576:.1f} MiB, made in {report.seconds:.0f} s")
    return report


@pytest.fixture(scope="module")
def manifest(made: MakeReport) -> dict:
    return json.loads((made.dest / "kiosk-usb.json").read_text())


def _target_pins(stick: Path, manifest: dict, platform: Platform, python: str) -> list[str]:
    """The wheel set the target needs, judged with the target's own markers."""
    wheels = [read_wheel(p) for p in (stick / "kiosk/wheels/any").glob("*.whl")]
    wheels += [read_wheel(p) for p in (stick / "kiosk/wheels" / platform.key).glob("*.whl")]
    root = Requirement(f"{manifest['kiosk_dist']}=={manifest['kiosk_version']}")
    closure = check_closure(wheels, [root], platform, python)
    return [f"{w.name}=={w.version}" for w in closure.chosen.values()]


def _dry_run(stick: Path, manifest: dict, platform: Platform, python: str,
             target: Path) -> subprocess.CompletedProcess[str]:
    """pip installs the target's pinned set from the stick alone, for its tags and Python.

    pip evaluates environment markers on this Linux machine, never on the target, so the
    set is decided with the target's markers (check_closure) and pip is given it pinned
    with --no-deps: pip then proves that every wheel of it installs on the target.
    """
    wheels = stick / "kiosk" / "wheels"
    cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--no-index",
           "--disable-pip-version-check", "--quiet", "--only-binary", ":all:",
           "--find-links", str(wheels / "any"), "--find-links", str(wheels / platform.key),
           "--python-version", python, "--implementation", "cp", "--target", str(target),
           "--report", str(target) + ".json"]
    for tag in platform.tags:
        cmd += ["--platform", tag]
    cmd += ["--no-deps", *_target_pins(stick, manifest, platform, python)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def dry_runs(made: MakeReport, manifest: dict, tmp_path_factory: pytest.TempPathFactory,
             ) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """pip's own resolution of every shipped pair, from the stick alone, 4 at a time."""
    base = tmp_path_factory.mktemp("dry")
    shipped = [(p, v) for p, v in PAIRS if v in manifest["platforms"][p.key]["pythons"]]
    with ThreadPoolExecutor(4) as pool:
        futures = {(p.key, v): pool.submit(_dry_run, made.dest, manifest, p, v,
                                           base / f"{p.key}-{v}") for p, v in shipped}
        return {key: f.result() for key, f in futures.items()}


def test_stick_matches_its_manifest_and_is_fat_safe(made: MakeReport, manifest: dict):
    assert verify_stick(made.dest) == []
    for _rel, path in plain_files(made.dest):
        assert not path.is_symlink()
    for name in ("start.sh", "start.command", "start.bat", "README.txt", "kiosk/launch.py"):
        assert name in manifest["files"]
    for key, info in manifest["platforms"].items():
        if key in KNOWN_GAPS and not info["pythons"]:
            assert all(KNOWN_GAPS[key] in why for why in info["skipped"].values()), info
        else:
            assert info["pythons"] == list(PYTHON_VERSIONS), f"{key}: {info['skipped']}"


@pytest.mark.parametrize("platform,python", PAIRS, ids=[f"{p.key}-py{v}" for p, v in PAIRS])
def test_wheel_set_is_complete(platform: Platform, python: str, made: MakeReport,
                               manifest: dict, dry_runs: dict, tmp_path: Path):
    info = manifest["platforms"][platform.key]
    if python not in info["pythons"]:
        pytest.skip(f"not shipped: {info['skipped'][python]}")
    proc = dry_runs[(platform.key, python)]
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(Path(proc.args[proc.args.index("--report") + 1]).read_text())
    pip_names = {item["metadata"]["name"].lower().replace("_", "-")
                 for item in report["install"]}
    # pip judges markers on this (Linux) machine; judge them on the target as well.
    wheels = [read_wheel(p) for p in (made.dest / "kiosk/wheels/any").glob("*.whl")]
    wheels += [read_wheel(p) for p in (made.dest / "kiosk/wheels" / platform.key).glob("*.whl")]
    root = Requirement(f"{manifest['kiosk_dist']}=={manifest['kiosk_version']}")
    closure = check_closure(wheels, [root], platform, python)
    assert closure.problems == []
    target_names = {str(n) for n in closure.chosen}
    assert "aiohttp" in pip_names and "aiohttp" in target_names
    if platform.sys_platform == "win32":
        assert "colorama" in target_names  # a win32-only dependency pip alone would miss
    linux_only = pip_names - target_names
    assert not {n for n in linux_only if "win" in n}, linux_only


# -- a clean laptop with no network: the Linux launcher in a namespace with only `lo` ------

def _need_root_tools() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("the offline start test needs root and iproute2 (ip netns)")


@pytest.fixture
def netns() -> Iterator[str]:
    _need_root_tools()
    name = f"kiosk-usb-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        links = subprocess.run(["ip", "-n", name, "-o", "link"], capture_output=True,
                               text=True, check=True).stdout
        assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


class Launch:
    """``sh start.sh`` running in the namespace; output collected by a thread."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.lines: list[str] = []
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, text: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} from the launcher:\n" + "\n".join(self.lines))

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the launcher passes it on to the kiosk
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.pump.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def _in_ns(ns: str, code: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                          capture_output=True, text=True, check=True, timeout=60).stdout


FETCH = """
import json, urllib.request
out = {}
for path in ["/", "/lab/index.html", "/lab/jupyter-lite.json"]:
    with urllib.request.urlopen("http://localhost:%d" + path, timeout=10) as resp:
        out[path] = [resp.status, len(resp.read())]
print(json.dumps(out))
"""


def _free_host_port(first: int = 8100) -> int:
    """A port nothing on this machine (outside any namespace) listens on.

    The kiosk in the namespace gets this port, so a page the browser loads from it can
    only have come from inside the namespace.
    """
    for port in range(first, first + 200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise AssertionError("no free port")


def _refused_on_host(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


#: what a student runs on the stick's kiosk: the standard library only, so any bundle
#: profile does; the file is uploaded through the file browser by the scenario
NOTEBOOK_CELLS = [
    "import csv, os\nprint(os.getcwd())\nrows = list(csv.DictReader(open('mydata.csv')))\n"
    "print('sum', sum(int(r['b']) for r in rows))",
    "with open('out.csv', 'w') as fh:\n    fh.write('x,y\\n5,6\\n')\nprint('written')",
    "name = input('name? ')\nprint('hello', name)",
]


def _check_notebook(result: dict, port: int) -> None:
    """The drive (both ways) and input() worked on http://localhost:<port>."""
    assert result["secure"] is True, "localhost is a secure context"
    out = result["outputs"]
    assert out[0].startswith("/drive"), out
    assert "sum 6" in out[0], out  # the uploaded file, read from Python
    assert "written" in out[1], out
    assert "hello Ada" in out[2], out  # input() answered in the notebook
    written = result["written"]
    assert written is not None, "out.csv, written by Python, is not in the contents"
    text = (base64.b64decode(written["content"]).decode() if written["format"] == "base64"
            else written["content"])
    assert text == "x,y\n5,6\n"
    assert "out.csv" in result["listed"], result["listed"]  # shown in the file browser
    assert result["foreign"] == [], result["foreign"]


@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.browser
def test_stick_starts_offline_on_a_clean_linux_laptop(made: MakeReport, netns: str,
                                                       tmp_path: Path):
    stick = tmp_path / "STICK"
    shutil.copytree(made.dest, stick)  # each run starts from a fresh stick
    home = tmp_path / "home"
    home.mkdir()
    # A laptop: Debian's python3 on PATH, a fresh home, no pip configuration.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    port = _free_host_port()
    cmd = ["ip", "netns", "exec", netns, "sh", str(stick / "start.sh"), "--no-browser",
           "--port", str(port)]

    first = Launch(cmd, env)
    try:
        first_start = first.wait_for("The kiosk is running", 600)
        assert any("First start on this laptop" in line for line in first.lines)
        assert any("kept on the USB stick" in line for line in first.lines)
        assert not any("Python on the stick" in line for line in first.lines), \
            "the laptop's own Python comes first"
        fetched = json.loads(_in_ns(netns, FETCH % port))
        assert all(status == 200 and size > 0 for status, size in fetched.values()), fetched
        result = run_scenario_in_ns(netns, "usb_localhost", {"port": port})
        for path, page in result["pages"].items():
            assert page["status"] == 200, (path, page)
            assert page["secure"] and page["randomUUID"] and page["serviceWorker"], page
        assert result["foreign"] == []
        if current_bundle(stick / "kiosk" / "bundles").name.startswith("fake"):
            pytest.fail("the notebook needs a real bundle: run 'make bundles-for-tests'")
        # A notebook in the laptop's browser, inside the namespace, on localhost: a file
        # uploaded in the file browser is read by Python, a file Python writes shows in
        # the file browser, and input() gets what is typed.
        notebook_started = time.monotonic()
        notebook = run_scenario_in_ns(netns, "relay_notebook", {
            "url": f"http://localhost:{port}", "cells": NOTEBOOK_CELLS}, timeout=420)
        notebook_s = time.monotonic() - notebook_started
        _check_notebook(notebook, port)
        assert _refused_on_host(port), "the kiosk must be reachable inside the namespace only"
    finally:
        assert first.stop() == 0 or first.proc.returncode == -signal.SIGTERM, first.lines
    assert (stick / "data").is_dir(), "the share store lives on the stick"
    venvs = list((home / ".local/share/kiosk-usb/venvs").iterdir())
    assert len(venvs) == 1 and venvs[0].name.endswith("-linux-x86_64-py311")
    assert "home = /usr/bin" in (venvs[0] / "pyvenv.cfg").read_text()

    # Second start, stick read-only: no install, and the share store moves to the laptop.
    ro_cmd = ["ip", "netns", "exec", netns, "unshare", "-m", "sh", "-c",
              'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && '
              'exec sh "$0/start.sh" "$@"', str(stick), "--no-browser", "--port", str(port)]
    second = Launch(ro_cmd, env)
    try:
        second_start = second.wait_for("The kiosk is running", 120)
        assert not any("First start" in line for line in second.lines)
        assert any("read-only" in line and str(home) in line for line in second.lines), \
            second.lines
        fetched = json.loads(_in_ns(netns, FETCH % port))
        assert fetched["/"][0] == 200
    finally:
        second.stop()
    timings = {"first_start_s": round(first_start, 1), "second_start_s": round(second_start, 1),
               "notebook_s": round(notebook_s, 1)}
    print("USB start timings:", json.dumps(timings))
    (tmp_path.parent / "usb-timings.json").write_text(json.dumps(timings))


#: Run as `sh -c HIDE_PYTHON sh COMMAND...` in a private mount namespace: every Python of
#: this machine (Debian's, pyenv's, /usr/local's) and the libraries the stick's Python
#: brings (SQLite, OpenSSL, libffi) are hidden behind empty folders and /dev/null.
HIDE_PYTHON = r"""
set -e
empty=$(mktemp -d)
for d in /usr/lib/python3* /usr/local/lib/python3* /root/.pyenv /opt/wheels; do
  if [ -d "$d" ]; then mount --bind "$empty" "$d"; fi
done
for f in /usr/bin/python* /usr/local/bin/python*; do
  if [ -e "$f" ]; then mount --bind /dev/null "$f"; fi
done
for lib in libsqlite3.so.0 libssl.so.3 libcrypto.so.3 libffi.so.8; do
  real=$(readlink -f "/usr/lib/$(uname -m)-linux-gnu/$lib") || continue
  if [ -f "$real" ]; then mount --bind /dev/null "$real"; fi
done
for py in python3 python3.11 python; do
  if "$py" -c 1 >/dev/null 2>&1; then echo "still a $py here"; exit 99; fi
done
echo "this laptop has no Python"
exec "$@"
"""


@pytest.mark.netns
@pytest.mark.slow
def test_stick_brings_its_own_python_to_a_laptop_without_one(made: MakeReport, netns: str,
                                                              tmp_path: Path):
    """No Python on the laptop at all: start.sh unpacks the stick's and the kiosk runs."""
    if platform.machine() != "x86_64":
        pytest.skip("the test stick carries a Python for Linux x86-64 only")
    assert made.entries.get("kiosk/python/linux-x86_64.tar.gz"), "made without --with-python"
    stick = tmp_path / "STICK"
    shutil.copytree(made.dest, stick)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    port = _free_host_port()
    cmd = ["ip", "netns", "exec", netns, "unshare", "-m", "sh", "-c", HIDE_PYTHON, "sh",
           "sh", str(stick / "start.sh"), "--no-browser", "--port", str(port)]
    launch = Launch(cmd, env)
    try:
        started = launch.wait_for("The kiosk is running", 600)
        lines = launch.lines
        assert "this laptop has no Python" in lines, lines
        assert any("no Python 3.11 to 3.14" in line for line in lines), lines
        assert any("Using the Python on the stick" in line for line in lines), lines
        fetched = json.loads(_in_ns(netns, FETCH % port))
        assert all(status == 200 and size > 0 for status, size in fetched.values()), fetched
    finally:
        assert launch.stop() == 0 or launch.proc.returncode == -signal.SIGTERM, launch.lines
    runtimes = list((home / ".local/share/kiosk-usb/python").iterdir())
    assert [r.name for r in runtimes] == [
        f"{made_manifest_runtime_id(made)}-linux-x86_64"], runtimes
    venv = next((home / ".local/share/kiosk-usb/venvs").iterdir())
    assert f"home = {runtimes[0] / 'bin'}" in (venv / "pyvenv.cfg").read_text()
    # the share store opened: SQLite came from the stick (the laptop's is hidden)
    assert any((stick / "data").iterdir()), "the kiosk made no share store"
    print("USB start without a laptop Python:", json.dumps({"first_start_s": round(started, 1)}))


def test_sticks_python_needs_no_newer_glibc_than_ubuntu_22_04(made: MakeReport,
                                                              tmp_path: Path):
    """The runtime's promise (glibc 2.35: Ubuntu 22.04, Debian 12) holds for every ELF file."""
    if shutil.which("objdump") is None:
        pytest.fail("this test needs objdump (binutils)")
    with tarfile.open(made.dest / "kiosk/python/linux-x86_64.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    needs: dict[str, tuple[int, int]] = {}
    for path in sorted(tmp_path.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.read_bytes()[:4] != b"\x7fELF":
            continue
        dump = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True,
                              check=True).stdout
        versions = [tuple(int(x) for x in v.split(".")[:2])
                    for v in re.findall(r"GLIBC_(\d+\.\d+)", dump)]
        needs[str(path.relative_to(tmp_path))] = max(versions, default=(2, 0))
    assert "bin/python3.11" in needs and len(needs) > 20, sorted(needs)
    too_new = {p: v for p, v in needs.items() if v > (2, 35)}
    assert too_new == {}, too_new
    assert not any("libexpat" in p for p in needs), "the laptop's own libexpat is used"


def made_manifest_runtime_id(made: MakeReport) -> str:
    manifest = json.loads((made.dest / "kiosk-usb.json").read_text())
    return str(manifest["runtimes"]["linux-x86_64"]["id"])


def run_scenario_in_ns(ns: str, name: str, params: dict, *, timeout: float = 180) -> dict:
    """Run tests/browser/<name>.mjs inside the namespace (Chromium sees only lo)."""
    from tests import browserlib

    browserlib.require_browser()
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, "node", str(browserlib.BROWSER_DIR / f"{name}.mjs"),
         json.dumps(params)],
        capture_output=True, text=True, timeout=timeout, cwd=browserlib.BROWSER_DIR,
        check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    result = json.loads(lines[-1]) if lines else {"error": proc.stderr[-3000:]}
    assert proc.returncode == 0 and "error" not in result, \
        (result.get("error"), proc.stderr[-3000:], result.get("console"))
    return result
