"""systemd notify: readiness, status, watchdog and stopping, over a real datagram socket."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.systemd import Notifier, notify_address, watchdog_interval


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A bound AF_UNIX datagram socket (short path: sun_path holds 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="sdn", dir="/tmp")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    yield sock, path
    sock.close()
    shutil.rmtree(folder)


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"kiosk-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    yield sock, "@" + name
    sock.close()


def receive(sock: socket.socket, until: str, timeout: float = 20) -> list[str]:
    """Collect messages (one per datagram) until one contains the line ``until``."""
    messages: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        messages.append(data.decode())
        if until in data.decode().split("\n"):
            return messages
    raise AssertionError(f"no {until!r} within {timeout} s; got {messages}")


def drain(sock: socket.socket) -> list[str]:
    sock.setblocking(False)
    out = []
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)
    return out


def test_systemd_notify_address_forms() -> None:
    assert notify_address(None) is None
    assert notify_address("") is None
    assert notify_address("/run/systemd/notify") == "/run/systemd/notify"
    assert notify_address("@abc") == b"\0abc"
    assert notify_address("vsock:2:1234") is None


def test_systemd_watchdog_interval() -> None:
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "2000000",
                              "WATCHDOG_PID": str(os.getpid())}) == 1.0
    assert watchdog_interval({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "nope"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None


def test_systemd_notifier_without_socket_is_a_noop() -> None:
    notifier = Notifier({})
    notifier.open()
    assert not notifier.enabled
    assert notifier.notify("READY=1") is False
    notifier.start_watchdog()
    notifier.close()


def test_systemd_notifier_missing_socket_only_logs(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "absent")})
    notifier.open()
    assert notifier.notify("READY=1") is False
    notifier.close()


async def test_systemd_watchdog_stops_while_loop_is_blocked(
        notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})  # ping every 50 ms
    notifier.open()
    notifier.start_watchdog()
    try:
        await asyncio.sleep(0.3)
        assert drain(sock).count("WATCHDOG=1") >= 3
        time.sleep(0.5)  # a wedged loop: the ping task cannot run
        assert drain(sock) == []
        await asyncio.sleep(0.3)
        assert drain(sock).count("WATCHDOG=1") >= 3
    finally:
        await notifier.stop_watchdog()
        notifier.close()
    tasks = {t.get_name() for t in asyncio.all_tasks()}
    assert "kiosk-systemd-watchdog" not in tasks


def _lifecycle(kiosk_process, sock: socket.socket, address: str) -> None:
    kp = kiosk_process(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
    messages = receive(sock, "READY=1")
    assert any(m.startswith("STATUS=starting") for m in messages)
    ready = messages[-1].split("\n")
    assert any(line.startswith("STATUS=serving on ") for line in ready)
    assert f"MAINPID={kp.proc.pid}" in ready
    # The watchdog pings every 0.2 s.
    t0 = time.monotonic()
    pings = 0
    while pings < 5:
        pings += receive(sock, "WATCHDOG=1", timeout=2).count("WATCHDOG=1")
    assert time.monotonic() - t0 < 3
    kp.proc.send_signal(15)
    stopping = receive(sock, "STOPPING=1", timeout=10)[-1].split("\n")
    assert any(line.startswith("STATUS=stopping") for line in stopping)
    assert kp.stop() == 0
    # After STOPPING=1 the watchdog task is gone: no ping follows it.
    assert "WATCHDOG=1" not in drain(sock)


def test_systemd_serve_notifies_ready_watchdog_stopping(
        kiosk_process, notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    _lifecycle(kiosk_process, sock, path)


def test_systemd_serve_supports_abstract_socket(
        kiosk_process, abstract_socket: tuple[socket.socket, str]) -> None:
    sock, name = abstract_socket
    _lifecycle(kiosk_process, sock, name)
