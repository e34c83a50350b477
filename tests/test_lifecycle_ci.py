"""A CI that cannot lie: skips fail under CI=true; blockbuster watches request paths."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import web

from tests.conftest import REPO

PROBE = '''
import pytest

def test_runs():
    pass

def test_needs_root():
    pytest.skip("needs root to create a network namespace")

def test_not_applicable():
    pytest.skip("no runtime platform for sparc64")

@pytest.mark.xfail(reason="known")
def test_known_failure():
    raise AssertionError
'''


def run_probe(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(REPO)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.ci_strict", "-p",
                           "no:cacheprovider", "-q", "-rA", "test_probe.py"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_under_ci_a_skip_fails_unless_allowed(tmp_path: Path):
    strict = run_probe(tmp_path, "true")
    assert strict.returncode == 1, strict.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in strict.stdout, strict.stdout
    assert "skipped under CI=true" in strict.stdout and "needs root" in strict.stdout
    relaxed = run_probe(tmp_path, None)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in relaxed.stdout, relaxed.stdout


async def test_blockbuster_catches_blocking_calls_on_request_paths(aiohttp_client, tmp_path):
    target = tmp_path / "f"
    target.write_text("x")

    async def sleeps(request: web.Request) -> web.Response:
        time.sleep(0.001)
        return web.Response(text="slept")

    async def reads(request: web.Request) -> web.Response:
        return web.Response(text=target.read_text())

    async def threads(request: web.Request) -> web.Response:
        return web.Response(text=await asyncio.to_thread(target.read_text))

    app = web.Application()
    app.router.add_get("/sleep", sleeps)
    app.router.add_get("/read", reads)
    app.router.add_get("/thread", threads)
    client = await aiohttp_client(app)
    assert (await client.get("/sleep")).status == 500
    assert (await client.get("/read")).status == 500
    resp = await client.get("/thread")
    assert resp.status == 200 and await resp.text() == "x"
    time.sleep(0.001)  # the test's own code, outside a request, is not watched


def test_make_test_prints_the_slowest_tests():
    recipe = (REPO / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "pytest" in recipe and "--durations=25" in recipe
