"""Issue 18, every student's browser: the student flow in Chromium, Firefox ESR and WebKitGTK.

tests/browser/student_flow.mjs, driven by puppeteer-core (Debian's Chromium over CDP,
Debian's firefox-esr over WebDriver BiDi), against a real `kiosk serve`: "Start coding"
opens the lesson; a cell runs; numpy, pandas and a matplotlib plot; input() gets its
answer; a file Python writes shows in the file browser and a file saved from the file
browser is read by Python; time.sleep waits; Share gives a link that opens, view-only,
in a fresh browser context. On a non-secure LAN name (kiosk.test: the kiosk's relay does
the service worker's job) and on localhost (a secure context: the kiosk's service worker),
at a phone and a laptop size.

WebKitGTK (Safari's engine, what iPads run) at a tablet size: tests/browser/
webkit_student_flow.mjs drives Debian's MiniBrowser through WebKitWebDriver (started here,
one per browser session, on an Xvfb display started here) with selenium-webdriver's plain
W3C client. WebKit has no host-resolver override, so MiniBrowser reaches kiosk.test only
through a forwarding proxy in the scenario, which refuses and records every other request.
Differences from the puppeteer cases: the window (not the viewport) is set to the tablet
size, so the width checks use the page's own innerWidth; the fresh context for the shared
link is a second MiniBrowser under a second driver.
The proxy forwards the relay's WebSocket (ws://kiosk.test:PORT/api/relay/ws) too: without
it input() and the drive fail. The case took 90 s here (the kernel 60-150 s, by CPU load).
It also counts the kernel's POST /api/drive and /api/stdin/ that reach the kiosk: some on
the LAN name (the relay answers them), none on localhost (the service worker does).

Every engine runs the flow on localhost too, where the page is a secure context and the
kiosk's own service worker (kiosk/relay/service-worker.js) answers the kernel; each case
checks which of the two mechanisms the page used. Firefox ESR on localhost once never got
an idle kernel: the tab holds two kernels (the lesson's and the new notebook's) under one
browsingContextId, and the bundle's JupyterLite 0.6.x service worker handed one answer to
every waiting call of that id, so a stat got a directory listing and Pyodide died
("stat.atime is undefined"). A kiosk bug, not an automation artefact: nothing in it
depends on how the browser is driven (the service worker and the two kernels are the same
for a student's Firefox on http://localhost), and Chromium was only luckier with timing.
See docs/modes.md and tests/test_service_worker_browser.py. No browser preference is
changed for these cases; WebKit reaches 127.0.0.1 through the test proxy too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browserlib import BROWSER_DIR, run_scenario
from tests.test_extension_e2e import _latest_bundle, _single_bundle_dir

pytestmark = [pytest.mark.browser, pytest.mark.bundle, pytest.mark.slow]

FIREFOX = Path("/usr/bin/firefox-esr")
MINIBROWSER = Path("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
TABLET = {"width": 810, "height": 1080}
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
CASES = {
    "chrome-phone-lan": ("chrome", PHONE, "kiosk.test"),
    "chrome-laptop-localhost": ("chrome", LAPTOP, "127.0.0.1"),
    "firefox-laptop-lan": ("firefox", LAPTOP, "kiosk.test"),
    "firefox-phone-lan": ("firefox", PHONE, "kiosk.test"),
    "webkit-tablet-lan": ("webkit", TABLET, "kiosk.test"),
    "firefox-laptop-localhost": ("firefox", LAPTOP, "127.0.0.1"),
    "webkit-tablet-localhost": ("webkit", TABLET, "127.0.0.1"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def webkit_drivers(count: int, tmp_path: Path) -> Iterator[list[str]]:
    """An Xvfb display and `count` WebKitWebDriver processes on it; yields their URLs."""
    missing = [name for name, ok in [
        ("Xvfb (Debian xvfb)", shutil.which("Xvfb") is not None),
        ("WebKitWebDriver (Debian webkit2gtk-driver)", shutil.which("WebKitWebDriver") is not None),
        (str(MINIBROWSER), MINIBROWSER.exists()),
        ("selenium-webdriver", (BROWSER_DIR / "node_modules" / "selenium-webdriver").is_dir()),
    ] if not ok]
    if missing:
        pytest.fail(f"WebKit tests need {', '.join(missing)}: run 'make test-deps'")
    procs: list[subprocess.Popen[bytes]] = []
    read_fd, write_fd = os.pipe()
    try:
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1400x1200x24",
             "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(xvfb)
        os.close(write_fd)
        display = os.read(read_fd, 32).decode().strip()
        assert display.isdigit(), f"Xvfb did not start: {display!r}"
        env = {**os.environ, "DISPLAY": f":{display}", "HOME": str(tmp_path),
               "XDG_RUNTIME_DIR": str(tmp_path), "WEBKIT_DISABLE_COMPOSITING_MODE": "1"}
        urls = []
        for i in range(count):
            port = _free_port()
            with open(tmp_path / f"webkitdriver-{i}.log", "wb") as log:
                procs.append(subprocess.Popen(["WebKitWebDriver", f"--port={port}"], env=env,
                                              stdout=log, stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(url + "/status", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"WebKitWebDriver at {url} did not answer")
                    time.sleep(0.2)
        yield urls
    finally:
        os.close(read_fd)
        for proc in reversed(procs):
            _stop(proc)


@pytest.mark.parametrize("case", list(CASES))
def test_student_flow(case: str, kiosk_process: Any, tmp_path: Path) -> None:
    browser, viewport, host = CASES[case]
    if browser == "firefox" and not FIREFOX.exists():
        pytest.fail("firefox-esr is missing: run 'make test-deps'")
    if browser != "webkit" and not (BROWSER_DIR / "node_modules" / "puppeteer-core").is_dir():
        pytest.fail("puppeteer-core is missing: run 'make test-deps'")
    bundle = _latest_bundle("science")
    # kiosk.test is the LAN name: the host check (kiosk/hostcheck.py) must accept it.
    kp = kiosk_process("--bundles-dir", str(_single_bundle_dir(tmp_path, bundle)),
                       "--host-aliases", "kiosk.test")
    origin = f"http://{host}:{kp.port}"
    if browser == "webkit":
        with webkit_drivers(2, tmp_path) as drivers:
            r = run_scenario("webkit_student_flow", {
                "origin": origin, "viewport": viewport, "drivers": drivers, "timeoutMs": 300000,
            }, timeout=900)
        width = r["innerWidth"]
        assert 0.8 * viewport["width"] <= width <= viewport["width"]
        assert r["forwarded"] > 0 and r["foreign"] == []
    else:
        r = run_scenario("student_flow", {
            "origin": origin, "browser": browser, "viewport": viewport, "timeoutMs": 300000,
        }, timeout=900)
        width = viewport["width"]

    secure = host == "127.0.0.1"
    assert r["secure"] is secure
    # On localhost the kiosk's service worker answers the kernel's file calls and input();
    # on the LAN name (plain HTTP) nothing can, and the kiosk's relay does.
    assert r["serviceWorker"] is secure
    if browser == "webkit":
        posts = r["kernelPosts"]
        if secure:
            assert posts == {"drive": 0, "stdin": 0}
        else:
            assert posts["drive"] > 0 and posts["stdin"] > 0
    assert r["lesson"] == "Welcome.ipynb"
    assert r["firstCellWidth"] >= 300
    assert r["scrollWidth"] <= width
    assert r["cell"] == "42\n"
    assert r["science"]["status"] == "ok" and "sum 30" in r["science"]["text"]
    assert "image/png" in r["science"]["mimes"]
    assert "font cache" not in r["science"]["text"]
    assert r["input"] == {"text": "Hello Ada\n", "prompts": ["Your name? "]}
    assert r["written"].strip().startswith("/drive")
    assert r["fileBrowserHasPythonFile"] is True
    assert r["read"] == "made in the file browser\n"
    assert r["sleep"] == "True\n"
    assert r["link"].endswith(f"/lab/index.html?notebook={r['code']}")
    assert r["opened"] == r["code"]
