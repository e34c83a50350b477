"""Fixtures shared by the whole suite: configs on loopback, the app, real kiosk processes."""

from __future__ import annotations

import contextvars
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import KioskConfig, load_config

REPO = Path(__file__).resolve().parent.parent
_LISTEN_RE = re.compile(r"listening on (https?)://\S+?:(\d+)")


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., KioskConfig]:
    """Build a config on loopback, port 0, with its data under tmp_path."""

    def make(**overrides: Any) -> KioskConfig:
        values: dict[str, Any] = {
            "host": "127.0.0.1", "port": 0, "data_dir": tmp_path / "data",
            "mdns_enabled": False, "name": "testkiosk",
        }
        values.update(overrides)
        return load_config(env={}, overrides=values)

    return make


@pytest.fixture
def config(make_config: Callable[..., KioskConfig]) -> KioskConfig:
    return make_config()


@dataclass
class KioskProcess:
    """A `kiosk serve` running in its own process, as systemd would run it."""

    proc: subprocess.Popen[str]
    port: int
    scheme: str
    log: list[str] = field(default_factory=list)

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}"

    pump: threading.Thread | None = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        if self.pump is not None:
            self.pump.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code


def start_kiosk(args: list[str], env: dict[str, str] | None = None,
                timeout: float = 60, prefix: list[str] | None = None) -> KioskProcess:
    """Start `python -m kiosk serve ARGS` and wait until it listens.

    ``prefix`` runs it through a wrapper command (``unshare …``), which must exec it.
    """
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("KIOSK_CONFIG", None)
    proc = subprocess.Popen(
        [*(prefix or []), sys.executable, "-m", "kiosk", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    log: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        log.append(line.rstrip())
        match = _LISTEN_RE.search(line)
        if match:
            kp = KioskProcess(proc, int(match.group(2)), match.group(1), log)
            _drain(kp)
            return kp
    proc.kill()
    proc.wait(5)
    proc.stdout.close()
    raise AssertionError("kiosk did not start:\n" + "\n".join(log))


def _drain(kp: KioskProcess) -> None:
    """Keep reading the process's output so it never blocks on a full pipe."""

    def pump() -> None:
        assert kp.proc.stdout is not None
        for line in kp.proc.stdout:
            kp.log.append(line.rstrip())

    kp.pump = threading.Thread(target=pump, daemon=True, name="kiosk-log-pump")
    kp.pump.start()


@pytest.fixture
def kiosk_process(tmp_path: Path) -> Iterator[Callable[..., KioskProcess]]:
    """Factory: start real kiosk processes; all are stopped at the end of the test."""
    started: list[KioskProcess] = []

    def start(*args: str, env: dict[str, str] | None = None,
              prefix: list[str] | None = None) -> KioskProcess:
        base = ["--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp_path / "data"),
                "--no-mdns-enabled", "--name", "testkiosk"]
        kp = start_kiosk([*base, *args], env=env, prefix=prefix)
        started.append(kp)
        return kp

    yield start
    for kp in started:
        kp.stop()


@dataclass
class CsvOrigin:
    """One CSV body served on 127.0.0.1 from a thread: a dataset site "on the internet"."""

    server: Any
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Take the site off the air (idempotent): the school's line went down."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()


def serve_csv(body: bytes) -> CsvOrigin:
    """Start a :class:`CsvOrigin` serving ``body``; call ``stop()`` when done."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return CsvOrigin(server, thread)


@pytest.fixture
def csv_server() -> Iterator[Callable[[bytes], int]]:
    """Factory: serve one CSV body (see :func:`serve_csv`), for tests whose kiosk runs in
    another process; returns the port. Every site stops at the end of the test."""
    origins: list[CsvOrigin] = []

    def start(body: bytes) -> int:
        origins.append(serve_csv(body))
        return origins[-1].port

    yield start
    for origin in origins:
        origin.stop()


# -- blockbuster on request paths (issue 16) ---------------------------------------------------
# In-process tests: every blocking call (file I/O, sleep, SQLite, ...) made on the event
# loop while the kiosk handles a request served through `aiohttp_client` is an error.
# A middleware marks "inside a request" in a context variable; blockbuster's predicate
# lets everything else (the test's own setup, app startup) through.

_IN_REQUEST: contextvars.ContextVar[bool] = contextvars.ContextVar("in_request", default=False)


def _request_scope_middleware() -> Any:
    from aiohttp import web

    flag = _IN_REQUEST

    @web.middleware
    async def mark(request: web.Request, handler: Any) -> Any:
        token = flag.set(True)
        try:
            return await handler(request)
        finally:
            flag.reset(token)

    return mark


@pytest.fixture
def aiohttp_client(aiohttp_client: Any) -> Iterator[Any]:
    """pytest-aiohttp's client factory, with blockbuster watching each request's path."""
    from aiohttp import web
    from blockbuster import BlockBuster

    mark = _request_scope_middleware()

    async def make(app: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(app, web.Application) and mark not in app.middlewares:
            app.middlewares.insert(0, mark)
        return await aiohttp_client(app, *args, **kwargs)

    buster = BlockBuster()
    for function in buster.functions.values():
        allowed = function.can_block_predicate
        function.can_block_predicate = (
            lambda *a, _allowed=allowed, **k: not _IN_REQUEST.get() or _allowed(*a, **k))
    buster.activate()
    try:
        yield make
    finally:
        buster.deactivate()


# -- under CI=true a skip is a failure (issue 16); see tests/ci_strict.py ----------------------
from tests.ci_strict import pytest_runtest_makereport  # noqa: E402, F401


# -- no thread outlives its test (issue 22); see tests/threadcheck.py ---------------------------
@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    from tests.threadcheck import describe, leaked_threads

    before = threading.enumerate()
    yield
    leaked = leaked_threads(before)
    if leaked:
        pytest.fail(f"threads left running by this test: {describe(leaked)}", pytrace=False)


# -- the power-cut file system (tests/lazyfs.py), for test_power_cut*.py ------------------------
@pytest.fixture
def lazy(tmp_path: Path) -> Iterator[Any]:
    """A lazyfs over ``tmp_path/disk`` mounted at ``tmp_path/mnt``; unmounted at the end."""
    from tests.lazyfs import LazyMount, require_fuse

    require_fuse()
    mount = LazyMount(tmp_path / "disk", tmp_path / "mnt", tmp_path / "lazyfs.log")
    mount.mount()
    try:
        yield mount
    finally:
        mount.unmount()
