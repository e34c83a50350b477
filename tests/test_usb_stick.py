"""The USB stick made for real: wheel sets complete per platform, and a clean start offline.

A module-scoped fixture makes the stick once (``kiosk usb make``, all platforms and
Python versions) with its download cache in ``~/.cache/kiosk/usb`` (or
``$KIOSK_USB_CACHE``): a cold cache needs the package index for a few minutes, a
warm one makes the stick in seconds. The bundle is the real one when ``bundles/dist``
has one active, else a small fake bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
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
    return make_stick(MakeOptions(dest=dest, bundles_dir=bundles, cache_dir=CACHE))


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
    name = f"kiosk-usb-{uuid.uuid4().hex[:8]}"
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


@pytest.mark.netns
@pytest.mark.slow
def test_stick_starts_offline_on_a_clean_linux_laptop(made: MakeReport, netns: str,
                                                       tmp_path: Path):
    stick = tmp_path / "STICK"
    shutil.copytree(made.dest, stick)  # each run starts from a fresh stick
    home = tmp_path / "home"
    home.mkdir()
    # A laptop: Debian's python3 on PATH, a fresh home, no pip configuration.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    port = 8000
    cmd = ["ip", "netns", "exec", netns, "sh", str(stick / "start.sh"), "--no-browser",
           "--port", str(port)]

    first = Launch(cmd, env)
    try:
        first_start = first.wait_for("The kiosk is running", 600)
        assert any("First start on this laptop" in line for line in first.lines)
        assert any("kept on the USB stick" in line for line in first.lines)
        fetched = json.loads(_in_ns(netns, FETCH % port))
        assert all(status == 200 and size > 0 for status, size in fetched.values()), fetched
        result = run_scenario_in_ns(netns, {"port": port})
        for path, page in result["pages"].items():
            assert page["status"] == 200, (path, page)
            assert page["secure"] and page["randomUUID"] and page["serviceWorker"], page
        assert result["foreign"] == []
    finally:
        assert first.stop() == 0 or first.proc.returncode == -signal.SIGTERM, first.lines
    assert (stick / "data").is_dir(), "the share store lives on the stick"
    venvs = list((home / ".local/share/kiosk-usb/venvs").iterdir())
    assert len(venvs) == 1 and venvs[0].name.endswith("-linux-x86_64-py311")

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
    timings = {"first_start_s": round(first_start, 1), "second_start_s": round(second_start, 1)}
    print("USB start timings:", json.dumps(timings))
    (tmp_path.parent / "usb-timings.json").write_text(json.dumps(timings))


def run_scenario_in_ns(ns: str, params: dict) -> dict:
    """Run tests/browser/usb_localhost.mjs inside the namespace (Chromium sees only lo)."""
    from tests import browserlib

    browserlib.require_browser()
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, "node", str(browserlib.BROWSER_DIR / "usb_localhost.mjs"),
         json.dumps(params)],
        capture_output=True, text=True, timeout=180, cwd=browserlib.BROWSER_DIR, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    result = json.loads(lines[-1]) if lines else {"error": proc.stderr[-3000:]}
    assert proc.returncode == 0 and "error" not in result, result.get("error", proc.stderr)
    return result
