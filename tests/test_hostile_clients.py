"""Slow and hostile clients: the kiosk keeps serving everyone else."""

from __future__ import annotations

import re
import socket
import time
import urllib.request

from tests.fakebundle import make_bundle


def test_slowloris_does_not_starve_other_students(kiosk_process, tmp_path):
    make_bundle(tmp_path / "bundles")
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "bundles"))
    slow: list[socket.socket] = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", kiosk.port), timeout=5)
            sock.sendall(b"GET /lab/index.html HTTP/1.1\r\nHost: kiosk.test\r\nX-a: ")
            slow.append(sock)
        deadline = time.monotonic() + 6
        rounds = 0
        while time.monotonic() < deadline:
            for sock in slow[::10]:
                sock.sendall(b"a")  # trickle one byte to keep each request half-sent
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{kiosk.port}/build/style.css", timeout=5) as resp:
                assert resp.status == 200
                assert resp.read().startswith(b"body{color:#123}")
            rounds += 1
        assert rounds >= 5, f"only {rounds} normal requests answered while under attack"
    finally:
        for sock in slow:
            sock.close()
    assert kiosk.proc.poll() is None, "the kiosk died under a slowloris attack"


def test_oversized_headers_and_garbage_are_rejected(kiosk_process, tmp_path):
    make_bundle(tmp_path / "bundles")
    kiosk = kiosk_process("--bundles-dir", str(tmp_path / "bundles"))
    cases = [
        b"GET / HTTP/1.1\r\nHost: k\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: k\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 50,
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: k\r\nContent-Length: -5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\n0\r\n\r\n",
    ]
    for payload in cases:
        with socket.create_connection(("127.0.0.1", kiosk.port), timeout=5) as sock:
            sock.sendall(payload)
            data = sock.recv(4096)
        assert re.match(rb"HTTP/1\.[01] 4\d\d ", data) or data == b"", (payload[:40], data[:100])
    with urllib.request.urlopen(f"http://127.0.0.1:{kiosk.port}/", timeout=5) as resp:
        assert resp.status == 200
