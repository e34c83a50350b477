"""The README path: ``make run`` twice in a row from a fresh clone must start both times.

The clone reuses this checkout's venv, extension build tools and built bundles
(symlinks; every cloned file is dated in the past so make and the extension build see
nothing to redo, and nothing is written through the links), and keeps its data in a
temporary directory. ``make run`` runs with the defaults (port 8000, mDNS on) inside
a private network namespace; it is stopped with Ctrl-C (SIGINT to its process group),
as a teacher would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.lifecycle_net import Namespace, private_network, request
from tests.sharing_helpers import make_notebook

pytestmark = pytest.mark.slow

_LISTEN_RE = re.compile(r"listening on (https?)://\S+?:(\d+)")
_LONG_AGO = 946684800  # 2000-01-01: older than anything make compares against


def _need(path: Path, what: str) -> None:
    if not path.exists():
        pytest.fail(f"{path} is missing: {what} (make test builds it first)")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    for tool in ("git", "make"):
        if shutil.which(tool) is None:
            pytest.fail(f"needs {tool}")
    venv = (REPO / ".venv").resolve()
    bundles = REPO / "bundles" / "dist"
    ext = REPO / "extension"
    _need(venv / ".installed-run", "the venv (what make run installs)")
    _need(bundles / "current", "a built bundle")
    _need(ext / "dist" / "labextension" / "package.json", "the built extension")
    mark = ext / "dist" / ".kiosk-source-key"
    # The clone reuses the built extension when it is marked as the build of these very
    # sources (what scripts/extension-cached.sh writes, also when it came from its
    # cache, where npm never ran); otherwise the clone's make rebuilds it with our tools.
    tools = [ext / "node_modules", ext / ".venv"]
    if not mark.exists():
        for path in tools:
            _need(path, "the extension's build tools (no source key marks the build)")

    dest = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True, timeout=120)
    for root, dirs, files in os.walk(dest):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            os.utime(Path(root) / name, (_LONG_AGO, _LONG_AGO), follow_symlinks=False)
    (dest / ".venv").symlink_to(venv)
    for path in tools:
        if path.exists():
            (dest / "extension" / path.name).symlink_to(path.resolve())
    shutil.copytree(ext / "dist" / "labextension", dest / "extension/dist/labextension")
    if mark.exists():
        shutil.copy(mark, dest / "extension" / "dist" / mark.name)
    out = dest / "bundles" / "dist"
    out.mkdir(parents=True)
    for entry in bundles.resolve().iterdir():
        if entry.is_dir() and not entry.name.startswith("."):
            (out / entry.name).symlink_to(entry)
    shutil.copy(bundles / "current", out / "current")
    return dest


class MakeRun:
    """``make run`` in the background, its output collected by a thread."""

    def __init__(self, clone: Path, ns: Namespace, data: Path) -> None:
        env = {**os.environ, "KIOSK_DATA_DIR": str(data), "PYTHONPATH": str(clone),
               "PYTHONUNBUFFERED": "1"}
        env.pop("KIOSK_CONFIG", None)
        env.pop("MAKEFLAGS", None)
        self.proc = subprocess.Popen([*ns.prefix, "make", "-C", str(clone), "run"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.log: list[str] = []
        self.listening = threading.Event()
        self.port = 0
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line.rstrip())
            match = _LISTEN_RE.search(line)
            if match:
                self.port = int(match.group(2))
                self.listening.set()

    def wait_listening(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.listening.wait(0.2):
                return
        self.stop()
        raise AssertionError("make run did not start:\n" + "\n".join(self.log[-40:]))

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C in the teacher's terminal
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait(10)
        self._pump.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code


def test_make_run_twice_from_a_fresh_clone(clone: Path, tmp_path: Path):
    data = tmp_path / "data"
    with private_network() as ns:
        first = MakeRun(clone, ns, data)
        try:
            first.wait_listening()
            base = f"http://127.0.0.1:{first.port}"
            status, _ = ns.run(request, "GET", base + "/")
            assert status == 200
            status, raw = ns.run(request, "POST", base + "/api/v1/auth/issue")
            token = json.loads(raw)["token"]
            body = json.dumps({"notebook": make_notebook(title="first run")}).encode()
            status, raw = ns.run(lambda: request(
                "POST", base + "/api/v1/notebooks", body=body,
                headers={"Authorization": f"Bearer {token}",
                         "Content-Type": "application/json"}))
            assert status == 201, raw
            share = json.loads(raw)["notebook"]["id"]
            # The CLI beside it, in the same checkout, reports the bundle being served.
            served = (clone / "bundles" / "dist" / "current").read_text().strip()
            env = {**os.environ, "KIOSK_DATA_DIR": str(data), "PYTHONPATH": str(clone)}
            status = json.loads(subprocess.run(
                [*ns.prefix, str(clone / ".venv/bin/kiosk"), "status", "--json"], cwd=clone,
                env=env, capture_output=True, text=True, timeout=60, check=True).stdout)
            assert status["running"] and status["bundle"]["name"] == served, status
            doctor = subprocess.run(
                [*ns.prefix, str(clone / ".venv/bin/kiosk"), "doctor", "--json"], cwd=clone,
                env=env, capture_output=True, text=True, timeout=300, check=False)
            findings = {f["check"]: f for f in json.loads(doctor.stdout)}
            assert findings["bundle"]["level"] == "ok", findings["bundle"]
        finally:
            first.stop()
        assert first.port == 8000
        assert (data / "kiosk-id").is_file()  # mDNS was on: the identity file exists

        second = MakeRun(clone, ns, data)
        try:
            second.wait_listening()
            base = f"http://127.0.0.1:{second.port}"
            status, _ = ns.run(request, "GET", base + "/")
            assert status == 200
            status, raw = ns.run(lambda: request(
                "GET", f"{base}/api/v1/notebooks/{share}",
                headers={"Authorization": f"Bearer {token}"}))
            assert status == 200, raw
        finally:
            second.stop()
    log = "\n".join(first.log + second.log)
    assert "bundle build" in log and "serve --bundles-dir bundles/dist" in log
    assert "npm ci" not in log and "extension: up to date" in log
