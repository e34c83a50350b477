"""Start the three servers a benchmark compares, on one bundle: kiosk, nginx, http.server.

``servers(bundle, host=..., prefix=[...])`` starts each (optionally inside a network
namespace: ``prefix=["ip", "netns", "exec", NAME]``), waits until it listens and
stops all of them on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 60, host: str = "127.0.0.1",
              prefix: list[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    probe = [*(prefix or []), sys.executable, "-c",
             f"import socket; socket.create_connection(({host!r}, {port}), 0.5).close()"]
    while time.monotonic() < deadline:
        if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


NGINX_CONF = """
{user}
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    types {{ application/wasm wasm; text/javascript mjs; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    gzip_static on;
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {host}:{port};
        root {root};
        etag on;
    }}
}}
"""


def _commands(bundle: Path, tmp: Path, host: str, port: int,
              workers: int, link_mbit: float = 50.0) -> dict[str, list[str]]:
    """How to start each server on ``host:port`` serving ``bundle``.

    ``kiosk-sched`` is the kiosk with class-start scheduling for a ``link_mbit`` link.
    """
    # The kiosk reads <bundles_dir>/current; give it a private bundles dir naming the bundle.
    pointer_dir = tmp / "bundles"
    pointer_dir.mkdir(exist_ok=True)
    if not (pointer_dir / bundle.name).exists():
        (pointer_dir / bundle.name).symlink_to(bundle)
    (pointer_dir / "current").write_text(bundle.name + "\n")
    conf = tmp / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, workers=workers, tmp=tmp, port=port, host=host,
                                      root=bundle))
    kiosk = [sys.executable, "-m", "kiosk", "serve", "--host", host, "--port", str(port),
             "--no-mdns-enabled", "--data-dir", str(tmp / "data"),
             "--bundles-dir", str(pointer_dir), "--log-level", "WARNING"]
    return {
        "kiosk": kiosk,
        "kiosk-sched": [*kiosk, "--link-mbit", str(link_mbit)],
        "nginx": [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", str(tmp)],
        "http.server": [sys.executable, "-m", "http.server", str(port), "--bind", host,
                        "--directory", str(bundle)],
    }


@contextlib.contextmanager
def servers(bundle: Path, workers: int = 1, host: str = "127.0.0.1",
            prefix: list[str] | None = None,
            only: list[str] | None = None,
            link_mbit: float = 50.0) -> Iterator[dict[str, Server]]:
    """Start the servers (kiosk, nginx, http.server, or ``only`` these), each on its own port.

    ``only`` may also name ``kiosk-sched``: the kiosk scheduling for a ``link_mbit`` link.
    """
    names = only or ["kiosk", "nginx", "http.server"]
    tmp = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    started: dict[str, Server] = {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        for name in names:
            port = free_port()
            command = _commands(bundle, tmp, host, port, workers, link_mbit)[name]
            proc = subprocess.Popen([*(prefix or []), *command], cwd=REPO, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started[name] = Server(name, port, proc)
            wait_port(port, host=host, prefix=prefix)
        yield started
    finally:
        for server in started.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
