"""The unit's riskiest sandboxing, reproduced without systemd: does the kiosk still work?

- ``ProtectProc=`` and ``ProcSubset=`` as the unit sets them: a private /proc mounted
  with the matching ``hidepid=``/``subset=`` options in a mount namespace (the unit has
  no ``ProcSubset=pid``: this test showed discovery's psutil needs /proc/net/dev);
- ``MemoryDenyWriteExecute=yes``: the kernel's PR_SET_MDWE (Linux >= 6.3), which is what
  systemd >= 254 uses too, set before exec'ing the kiosk.

Needs root and util-linux's ``unshare``; skipped otherwise. Loopback only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, KioskProcess, _drain
from tests.fakebundle import make_bundle
from tests.sharing_helpers import make_notebook

_LISTEN_RE = re.compile(r"listening on (https?)://\S+?:(\d+)")

MDWE_WRAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(f"PR_SET_MDWE failed: errno {ctypes.get_errno()}")
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""

UNIT = REPO / "systemd" / "kiosk.service"


def _proc_options() -> str:
    """The /proc mount options the unit asks for (ProtectProc=, ProcSubset=)."""
    text = UNIT.read_text()
    options = []
    if match := re.search(r"^ProtectProc=(\S+)", text, re.M):
        options.append(f"hidepid={match.group(1)}")
    if match := re.search(r"^ProcSubset=(\S+)", text, re.M):
        options.append(f"subset={match.group(1)}")
    return ",".join(options) or "defaults"


SANDBOX = f"mount -t proc -o {_proc_options()} proc /proc && exec \"$@\""


def _supported() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            SANDBOX, "sh", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"cannot mount a pid-only /proc: {probe.stderr.decode().strip()}"
    probe = subprocess.run([sys.executable, "-c", MDWE_WRAPPER, "-c", "pass"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        return f"kernel lacks PR_SET_MDWE: {probe.stderr.decode().strip()}"
    return None


def _get(url: str, data: bytes | None = None, headers: dict[str, str] | None = None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


def test_systemd_sandbox_proc_subset_and_mdwe(tmp_path: Path) -> None:
    reason = _supported()
    if reason:
        pytest.skip(reason)
    data = tmp_path / "data"
    make_bundle(data / "bundles")
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", SANDBOX, "sh",
           sys.executable, "-c", MDWE_WRAPPER, "-m", "kiosk", "serve", "--host", "127.0.0.1",
           "--port", "0", "--data-dir", str(data), "--no-mdns-enabled", "--name", "testkiosk"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("KIOSK_CONFIG", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=REPO)
    assert proc.stdout is not None
    log: list[str] = []
    port = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and port is None:
        line = proc.stdout.readline()
        if not line:
            break
        log.append(line.rstrip())
        match = _LISTEN_RE.search(line)
        if match:
            port = int(match.group(2))
    kp = KioskProcess(proc, port or 0, "http", log)
    _drain(kp)
    try:
        assert port, "kiosk did not start in the sandbox:\n" + "\n".join(log)
        base = kp.url()
        code, body = _get(base + "/healthz")
        health = json.loads(body)
        assert health["status"] == "ok", health
        code, body = _get(base + "/metrics")
        assert b"kiosk_process_resident_memory_bytes" in body
        code, _ = _get(base + "/lab/index.html")
        assert code == 200
        code, body = _get(base + "/api/v1/auth/issue", data=b"",
                          headers={"Content-Type": "application/json"})
        token = json.loads(body)["token"]
        payload = json.dumps({"notebook": make_notebook("x = 1"), "password": "hunter22"})
        code, body = _get(base + "/api/v1/notebooks", data=payload.encode(),
                          headers={"Content-Type": "application/json",
                                   "Authorization": f"Bearer {token}"})
        assert code == 201
        readable = json.loads(body)["notebook"]["readable_id"]
        code, page = _get(base + f"/s/{readable}")  # nbconvert renders it
        assert code == 200 and b"hello" in page
    except Exception:
        time.sleep(0.5)
        print("\n".join(kp.log))
        raise
    finally:
        exit_code = kp.stop()
    text = "\n".join(kp.log)
    assert exit_code == 0, text
    assert "Traceback" not in text, text
    assert "MemoryError" not in text and "Permission denied" not in text, text
