"""A private network namespace for kiosks started with their defaults (mDNS on).

The kiosk runs under ``ip netns exec NS``; the test talks to it from a worker thread
that entered the same namespace with ``setns(2)`` (a network namespace is a per-thread
attribute), so its sockets are inside too. The namespace has loopback and a veth
pair ``eth0``/``peer0`` (both ends inside) with a private address: mDNS announces
there and nothing leaves the machine.
Needs root and iproute2; a test that cannot have them fails (it does not skip).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
_CLONE_NEWNET = 0x40000000


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


class Namespace:
    """A named network namespace and a thread that lives inside it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = ["ip", "netns", "exec", name]
        self._pool = ThreadPoolExecutor(max_workers=1, initializer=self._enter,
                                        thread_name_prefix=f"netns-{name}")

    def _enter(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {self.name} failed")
        finally:
            os.close(fd)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` on the thread inside the namespace."""
        return self._pool.submit(fn, *args).result(timeout=120)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def require_netns() -> None:
    """Fail with the reason when network namespaces cannot be made here."""
    if shutil.which("ip") is None:
        pytest.fail("needs iproute2's ip (apt-get install iproute2)")
    if os.geteuid() != 0:
        pytest.fail("needs root to create a network namespace (CI runs the suite as root)")


@contextmanager
def private_network() -> Iterator[Namespace]:
    """A fresh namespace with lo and eth0 (a veth, peer inside too) up; deleted after."""
    require_netns()
    name = f"kl-{secrets.token_hex(3)}"
    proc = _ip("netns", "add", name, check=False)
    if proc.returncode != 0:
        pytest.fail(f"'ip netns add' is unusable here: {proc.stderr.strip()}")
    ns = Namespace(name)
    try:
        for args in (["link", "set", "lo", "up"],
                     ["link", "add", "eth0", "type", "veth", "peer", "name", "peer0"],
                     ["link", "set", "peer0", "up"],
                     ["addr", "add", "10.77.0.1/24", "dev", "eth0"],
                     ["link", "set", "eth0", "up"]):
            _ip("-n", name, *args)
        yield ns
    finally:
        ns.close()
        _ip("netns", "del", name, check=False)


def request(method: str, url: str, *, body: bytes | None = None,
         headers: dict[str, str] | None = None, context: Any = None,
         timeout: float = 15) -> tuple[int, bytes]:
    """One blocking HTTP request: ``(status, body)``, error statuses included."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
