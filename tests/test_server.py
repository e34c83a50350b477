"""The daemon as a process: CLI basics, clean shutdown on signals with in-flight requests."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from kiosk import __version__
from tests.fakebundle import make_bundle


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True,
                          text=True, timeout=60, env=env, check=False)


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"kiosk {__version__}"


def test_bad_config_stops_start_with_key_named(tmp_path):
    proc = run_cli("serve", "--port", "99999", "--data-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "setting 'port'" in proc.stderr and "Traceback" not in proc.stderr


def test_port_in_use_is_explained(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = run_cli("serve", "--host", "127.0.0.1", "--port", str(port), "--no-mdns-enabled",
                       "--data-dir", str(tmp_path), "--bundles-dir", str(tmp_path / "b"))
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_lets_inflight_download_finish(kiosk_process, tmp_path, sig):
    root = make_bundle(tmp_path / "bundles")
    big = root / "static" / "pyodide" / "big.data"
    big.write_bytes(b"k" * (40 * 1024 * 1024))
    # Rebuild the manifest so the big file is part of the bundle.
    from kiosk.bundle.manifest import Manifest, describe_files, write_manifest
    write_manifest(root, Manifest("fake", "now", {}, describe_files(root)))
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "bundles"))

    with socket.create_connection(("127.0.0.1", kiosk.port)) as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        conn.sendall(b"GET /static/pyodide/big.data HTTP/1.1\r\nHost: kiosk.test\r\n"
                     b"Accept-Encoding: identity\r\n\r\n")
        received = conn.recv(1 << 20)
        assert received.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        kiosk.proc.send_signal(sig)
        time.sleep(0.5)
        # A new connection is no longer accepted once shutdown began.
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", kiosk.port), timeout=2).close()
        _header, _, body = received.partition(b"\r\n\r\n")
        total = len(body)
        while chunk := conn.recv(1 << 20):
            total += len(chunk)
        assert total == big.stat().st_size, "the in-flight download was cut short"
    code = kiosk.proc.wait(10)
    assert code == 0
    assert time.monotonic() - started < 6
    assert any("stopped" in line for line in kiosk.log)
