"""Clocks that lie: a kiosk that starts in 1970 and jumps to today (libfaketime).

The kiosk process runs with Debian's libfaketime preloaded, its fake time read from a
file the test rewrites (``FAKETIME_TIMESTAMP_FILE``, re-read on every call), with
``FAKETIME_DONT_FAKE_MONOTONIC=1`` so durations stay real. Shares saved and tokens
issued in "1970" must keep working after the jump; no share is ever deleted because
the clock jumped (``--retention-days 30``); ``/healthz`` and the status say the clock
is not set while it is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from kiosk.clock import RELEASE_TIME, SLACK_SECONDS, UNSET_BEFORE, ClockGuard, judge
from kiosk.errors import Unauthorized
from kiosk.sharing.tokens import TokenService
from tests.conftest import KioskProcess, start_kiosk
from tests.fakebundle import make_bundle
from tests.lifecycle_net import request
from tests.sharing_helpers import make_notebook

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
NINETEEN_SEVENTY = "@1970-01-02 08:00:00"


# -- the rules ------------------------------------------------------------------------------

def test_judge():
    assert not judge(86400.0).trusted
    assert "clock not set" in (judge(86400.0).reason or "")
    today = RELEASE_TIME + 30 * 86400
    assert judge(today).trusted
    assert judge(today, newest=today - 3600).trusted
    assert judge(today, newest=today + SLACK_SECONDS / 2).trusted  # an NTP step back
    behind = judge(today, newest=today + 86400)
    assert not behind.trusted and "newest share" in (behind.reason or "")


def test_release_time_is_not_in_the_future():
    assert UNSET_BEFORE < RELEASE_TIME <= time.time()


def test_tokens_of_an_unset_clock_live_a_lifetime_from_when_it_was_set(tmp_path: Path):
    now = [100000.0]
    guard = ClockGuard(tmp_path, wall=lambda: now[0])
    tokens = TokenService("k" * 43, 30 * 86400, clock=guard)
    early = tokens.issue(now=now[0])
    assert guard.refresh().trusted is False
    assert tokens.verify(early)  # dates are not judged while the clock is not set
    today = RELEASE_TIME + 100 * 86400
    now[0] = today
    assert guard.refresh().trusted and guard.set_at == today
    assert json.loads((tmp_path / "clock.json").read_text())["set_at"] == today
    assert tokens.verify(early)
    now[0] = today + 29 * 86400
    assert tokens.verify(early)
    now[0] = today + 31 * 86400
    with pytest.raises(Unauthorized):
        tokens.verify(early)
    # A token of a set clock expires as usual; set_at survives a restart.
    late = tokens.issue(now=today)
    with pytest.raises(Unauthorized):
        tokens.verify(late)
    again = ClockGuard(tmp_path, wall=lambda: now[0])
    assert again.refresh().trusted and again.set_at == today


# -- a real kiosk under libfaketime -----------------------------------------------------------

@pytest.fixture
def fake_clock(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    if shutil.which("faketime") is None or not LIBFAKETIME.is_file():
        pytest.fail("needs libfaketime (apt-get install faketime)")
    stamp = tmp_path / "faketime"
    stamp.write_text(NINETEEN_SEVENTY + "\n")
    env = {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME_TIMESTAMP_FILE": str(stamp),
           "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    return stamp, env


class Kiosk:
    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        make_bundle(tmp_path / "bundles")
        self.data = tmp_path / "data"
        self.proc: KioskProcess = start_kiosk(
            ["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled", "--name", "clock",
             "--data-dir", str(self.data), "--bundles-dir", str(tmp_path / "bundles"),
             "--retention-days", "30"], env=env)

    def call(self, method: str, path: str, payload: object = None,
             token: str | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(payload).encode() if payload is not None else None
        status, raw = request(method, self.proc.url() + path, body=body, headers=headers)
        return status, json.loads(raw)

    def admin_list(self) -> list[dict]:
        secret = (self.data / "admin-secret").read_text().strip()
        status, body = self.call("GET", "/api/admin/shares", token=secret)
        assert status == 200, body
        return list(body["shares"])

    def clock(self) -> tuple[dict, dict]:
        return self.call("GET", "/healthz")[1], self.call("GET", "/api/kiosk/status")[1]


def test_shares_and_tokens_of_1970_survive_the_jump_and_retention(fake_clock, tmp_path: Path):
    stamp, env = fake_clock
    kiosk = Kiosk(tmp_path, env)
    try:
        health, status = kiosk.clock()
        assert health["status"] == "degraded" and not health["checks"]["clock"]["ok"]
        assert any("clock not set" in r for r in health["reasons"]), health
        assert status["clock"]["trusted"] is False and status["clock"]["now"][:4] == "1970"
        token = kiosk.call("POST", "/api/v1/auth/issue")[1]["token"]
        code, saved = kiosk.call("POST", "/api/v1/notebooks", {"notebook": make_notebook()},
                                 token)
        assert code == 201
        share = saved["notebook"]["id"]
        assert kiosk.admin_list()[0]["updated_at"] < UNSET_BEFORE  # stamped "1970"

        stamp.write_text("+0\n")  # a time source appears: the clock jumps to today
        health, status = kiosk.clock()
        assert health["checks"]["clock"]["ok"] and status["clock"]["trusted"], health
        code, body = kiosk.call("PUT", f"/api/v1/notebooks/{share}", make_notebook("v2"), token)
        assert code == 200, body
        # The next housekeeping round re-dates the share instead of deleting it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            shares = kiosk.admin_list()
            if shares and shares[0]["updated_at"] > RELEASE_TIME:
                break
            time.sleep(0.5)
        assert [s["id"] for s in shares] == [share]
        assert shares[0]["updated_at"] > RELEASE_TIME
    finally:
        kiosk.proc.stop(signal.SIGKILL)

    # Next start at today's time, retention on: still there, the 1970 token still works.
    kiosk = Kiosk(tmp_path)
    try:
        assert [s["id"] for s in kiosk.admin_list()] == [share]
        code, body = kiosk.call("PUT", f"/api/v1/notebooks/{share}", make_notebook("v3"), token)
        assert code == 200, body
    finally:
        assert kiosk.proc.stop() == 0


def test_a_reboot_into_1970_deletes_nothing(fake_clock, tmp_path: Path):
    """Shares made today; the Pi reboots without a battery clock; retention stays off."""
    stamp, env = fake_clock
    kiosk = Kiosk(tmp_path)
    try:
        token = kiosk.call("POST", "/api/v1/auth/issue")[1]["token"]
        code, saved = kiosk.call("POST", "/api/v1/notebooks", {"notebook": make_notebook()},
                                 token)
        assert code == 201
        share = saved["notebook"]["id"]
    finally:
        kiosk.proc.stop()
    # Back in 1970: every share looks 56 years old to retention, which must not act.
    kiosk = Kiosk(tmp_path, env)
    try:
        health, status = kiosk.clock()
        assert not status["clock"]["trusted"]
        assert any("clock not set" in r for r in health["reasons"])
        time.sleep(1)
        assert [s["id"] for s in kiosk.admin_list()] == [share]
        code, body = kiosk.call("PUT", f"/api/v1/notebooks/{share}", make_notebook("v2"), token)
        assert code == 200, body  # a token issued today still works in "1970"
        assert any("retention skipped" in line for line in kiosk.proc.log)
    finally:
        kiosk.proc.stop()
    # And the clock set again (a newer share exists than the 1970 reboot's stamp).
    stamp.write_text("+0\n")
    kiosk = Kiosk(tmp_path, env)
    try:
        assert [s["id"] for s in kiosk.admin_list()] == [share]
        assert kiosk.clock()[1]["clock"]["trusted"]
    finally:
        kiosk.proc.stop()


def test_rate_limits_ignore_the_wall_clock(fake_clock, tmp_path: Path):
    """A clock jump does not reopen (or freeze) a rate-limit window: it is monotonic."""
    stamp, env = fake_clock
    make_bundle(tmp_path / "bundles")
    kp = start_kiosk(["--host", "127.0.0.1", "--port", "0", "--no-mdns-enabled",
                      "--data-dir", str(tmp_path / "data"), "--rate-issue-per-minute", "3"],
                     env=env)
    try:
        codes = [request("POST", kp.url() + "/api/v1/auth/issue")[0] for _ in range(3)]
        stamp.write_text("+0\n")  # 56 years later, by the wall clock
        codes += [request("POST", kp.url() + "/api/v1/auth/issue")[0]]
        assert codes == [200, 200, 200, 429]
    finally:
        kp.stop()
    assert os.environ.get("LD_PRELOAD") != str(LIBFAKETIME)


# -- in process: what the teacher sees, what retention does ----------------------------------

async def test_dashboard_health_and_status_say_clock_not_set(aiohttp_client, make_config):
    from kiosk.app import create_app
    from kiosk.sharing.keys import SHARING
    from tests.test_dashboard_auth import sign_in

    app = create_app(make_config())
    now = [86400.0 * 2]
    app[SHARING].clock.wall = lambda: now[0]
    client = await aiohttp_client(app)
    await sign_in(client)
    page = await (await client.get("/admin")).text()
    assert "clock not set" in page
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "degraded" and not health["checks"]["clock"]["ok"]
    status = await (await client.get("/api/kiosk/status")).json()
    assert status["clock"]["trusted"] is False
    now[0] = time.time()
    assert "clock not set" not in await (await client.get("/admin")).text()
    assert (await (await client.get("/healthz")).json())["checks"]["clock"]["ok"]


async def test_retention_waits_for_a_trusted_clock(make_config):
    from kiosk.sharing.service import SharingService
    from tests.sharing_helpers import dumps

    service = SharingService(make_config(retention_days=30))
    today = time.time()
    now = [today]
    service.clock.wall = lambda: now[0]
    await service.start()
    housekeeping = service._retention_task  # sweeps are driven by hand below
    assert housekeeping is not None
    housekeeping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await housekeeping
    try:
        old = await service.store.create(dumps(make_notebook()), owner_session="s")
        await service.store.execute_write(lambda c: c.execute(
            "UPDATE shares SET updated_at = ?, created_at = ?", (today - 90 * 86400,) * 2))
        fresh = await service.store.create(dumps(make_notebook()), owner_session="s")
        for wrong in (3600.0, today - 86400):  # 1970; and a day behind the newest share
            now[0] = wrong
            assert not service.clock.verdict().trusted
            assert await service.sweep() == 0
            assert await service.store.get(old.share.id) is not None
        now[0] = today  # set again: the 90-day-old share goes, as configured
        assert await service.sweep() == 1
        assert await service.store.get(old.share.id) is None
        assert await service.store.get(fresh.share.id) is not None
    finally:
        await service.close()


async def test_sync_retries_scheduled_by_a_clock_that_went_back_are_due(make_config, tmp_path):
    """A retry stored for 2030 (the clock read 2030 when it failed) is not held for years."""
    from kiosk.sharing.store import ShareStore
    from kiosk.sync import outbox
    from kiosk.sync.worker import SyncWorker
    from tests.sharing_helpers import dumps

    config = make_config(upstream_url="http://127.0.0.1:9/api/v1", sync_enabled=True,
                         upstream_kind="kiosk", sync_timeout=1)
    store = ShareStore(tmp_path / "s.sqlite3")
    outbox.attach(store, queue_writes=True)
    await store.start()
    worker = SyncWorker(config, store)
    await worker.start()
    try:
        await store.create(dumps(make_notebook()), owner_session="s")
        far = time.time() + 5 * 365 * 86400
        await store.execute_write(lambda c: c.execute(
            "UPDATE outbox SET attempts = 3, next_attempt_at = ?", (far,)))
        await worker.run_round()
        due = await store.execute_read(
            lambda c: c.execute("SELECT next_attempt_at FROM outbox").fetchone()[0])
        assert due < time.time() + config.sync_backoff_max
    finally:
        await worker.stop()
        await store.close()
