"""A stand-in for the internet: a network namespace with a public address and a web server.

The kiosk (in the root namespace) reaches it over a veth pair through a /30 route that
exists only for this test, so no packet can go anywhere else; the address is a globally
routable one, so the download guard treats the server as the internet, exactly as in a
classroom. Needs root and iproute2; under CI their absence fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

HOST_IP = "192.31.196.1"
SERVER_IP = "192.31.196.2"
PORT = 8080


def _sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=check)


def require_netns() -> None:
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.fail("this test needs root and iproute2 (ip netns) to build its 'internet'")


@contextmanager
def internet(files: dict[str, bytes], tmp: Path) -> Iterator[str]:
    """Serve ``files`` at ``http://192.31.196.2:8080/`` from a namespace; yield that base URL."""
    require_netns()
    tag = f"{os.getpid() % 100000}"
    ns, outer, inner = f"hk-inet-{tag}", f"hki{tag}", f"hke{tag}"
    root = tmp / "internet"
    root.mkdir()
    for name, body in files.items():
        (root / name).write_bytes(body)
    server: subprocess.Popen[bytes] | None = None
    try:
        _sh("ip", "netns", "add", ns)
        _sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        _sh("ip", "link", "set", inner, "netns", ns)
        _sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", outer)
        _sh("ip", "link", "set", outer, "up")
        _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{SERVER_IP}/30", "dev", inner)
        _sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
        _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        route = _sh("ip", "route", "get", SERVER_IP).stdout
        assert f"dev {outer}" in route, f"the test's route is not in place: {route}"
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", str(PORT),
             "--bind", SERVER_IP, "--directory", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://{SERVER_IP}:{PORT}/"
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 20
        while True:
            try:
                with direct.open(base, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        _sh("ip", "link", "del", outer, check=False)
        _sh("ip", "netns", "del", ns, check=False)
