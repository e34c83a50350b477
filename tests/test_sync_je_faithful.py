"""Sync against a stand-in that answers as the Jupyter Everywhere service v0.8.2 does
(tests/je_standin.py): 403 for dead tokens, in-memory refresh, 500 for unknown copies,
413/422/400 refusals, the caller's address as domain_id, the extra auth header.

Real sockets on loopback, a real SQLite file; the stand-in's clock is its own ``now``.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import random
import time

import pytest
from aiohttp.test_utils import TestServer

from kiosk.app import create_app
from kiosk.cli.sync import run_status
from kiosk.errors import ConfigError
from kiosk.sharing.keys import STORE
from kiosk.sharing.store import UpdateGrant
from kiosk.sync import outbox
from kiosk.sync.je import GONE_AFTER, REFUSE_AFTER
from kiosk.sync.keys import SYNC_WORKER
from kiosk.sync.tokens import TOKEN_RENEW_SECONDS
from kiosk.sync.upstream import PERSISTENT_ERROR, REFUSALS, SERVER_ERROR, UNKNOWN_COPY
from kiosk.sync.worker import JE_PRIVACY_NOTICE, SyncWorker
from tests.je_standin import JEStandIn
from tests.sharing_helpers import make_notebook
from tests.sync_helpers import api_url, serve_upstream, start_worker, sync_store
from tests.test_dashboard_auth import sign_in


class Rig:
    def __init__(self, je: JEStandIn, server: TestServer, store, worker: SyncWorker) -> None:
        self.je, self.server, self.store, self.worker = je, server, store, worker

    async def share(self, nb: dict | None = None) -> str:
        created = await self.store.create(json.dumps(nb or make_notebook()),
                                          owner_session="student")
        return created.share.id

    async def rounds(self, n: int = 1, *, now: bool = False) -> None:
        for _ in range(n):
            if now:
                self.worker.sync_now()
            await self.worker.run_round()

    async def link(self, share_id: str):
        return await self.worker.upstream_link(share_id)


@pytest.fixture
async def rig(make_config, tmp_path):
    je = JEStandIn(now=time.time(), max_bytes=20_000)
    server = await serve_upstream(je.app())
    config = make_config(upstream_url=api_url(server), sync_enabled=True, upstream_kind="je",
                         sync_backoff_base=0.01, sync_backoff_max=0.02)
    store, worker = await start_worker(config, tmp_path / "s.sqlite3", clock=lambda: je.now)
    try:
        yield Rig(je, server, store, worker)
    finally:
        await worker.stop()
        await store.close()
        await server.close()


async def test_a_share_after_je_forgot_its_tokens_arrives_at_once(rig: Rig) -> None:
    """JE restarted with a new key: the stored session token gets 403; the kiosk drops it
    and issues a new one in the same round (it used to wait for its own renewal)."""
    await rig.share()
    await rig.rounds()
    assert len(rig.je.notebooks) == 1
    rig.je.restart(rotate_key=True)
    await rig.share()
    await rig.rounds()
    assert len(rig.je.notebooks) == 2
    assert rig.je.count("POST", "notebooks", 403) == 1
    assert rig.worker.status().queued == 0


async def test_refresh_that_je_no_longer_holds_falls_back_to_issue(rig: Rig) -> None:
    await rig.share()
    await rig.rounds()
    rig.je.restart()  # same key: the token still passes; only refresh forgets it
    rig.je.now += TOKEN_RENEW_SECONDS + 60
    await rig.share()
    await rig.rounds()
    assert rig.je.count("POST", "auth/refresh", 500) == 1
    assert len(rig.je.notebooks) == 2


async def test_an_expired_jwt_is_not_refreshed_but_replaced(rig: Rig) -> None:
    await rig.share()
    await rig.rounds()
    rig.je.now += 3 * 3600  # past the JWT's exp, which the kiosk reads itself
    await rig.share()
    await rig.rounds()
    assert rig.je.count("POST", "auth/refresh") == 0
    assert rig.je.count("POST", "auth/issue") == 2
    assert len(rig.je.notebooks) == 2


async def test_domain_id_is_the_callers_address_and_internal_metadata_stays(rig: Rig) -> None:
    nb = make_notebook()
    nb["metadata"].update({"sharedId": "local-id", "readableId": "calm-otter-1",
                           "domainId": "room-12-kiosk", "kioskNote": "x", "author": "Ada"})
    await rig.share(nb)
    await rig.rounds()
    (up,) = rig.je.notebooks.values()
    assert up["domain_id"] == "127.0.0.1"
    assert up["content"]["metadata"].get("author") == "Ada"
    for key in ("sharedId", "readableId", "domainId", "kioskNote"):
        assert key not in up["content"]["metadata"], key
    assert up["content"]["cells"] == nb["cells"]


@pytest.mark.parametrize(("status", "body"), [(413, "big"), (422, "bad")])
async def test_a_refused_share_is_parked_until_it_changes(rig: Rig, status, body) -> None:
    nb = make_notebook("x = 1")
    if body == "big":
        nb["cells"][0]["source"] = "#" * 30_000
    else:
        nb["cells"] = "not a list"
    sid = await rig.share(nb)
    await rig.rounds(4)
    assert rig.je.count("POST", "notebooks", status) == 1  # not retried
    counts = await rig.store.execute_read(outbox.counts)
    assert counts.refused == 1 and counts.queued == 0
    assert (await rig.worker.refusals([sid])) == {sid: REFUSALS[status]}
    assert not await rig.worker.is_queued(sid)
    # The student fixes it (clears the outputs): tried again, and it arrives.
    await rig.store.update(sid, json.dumps(make_notebook("x = 1")), grant=UpdateGrant("student"))
    await rig.rounds()
    assert len(rig.je.notebooks) == 1 and await rig.worker.refusals([sid]) == {}


async def test_the_teacher_retries_a_refused_share(rig: Rig) -> None:
    nb = make_notebook()
    nb["cells"][0]["source"] = "#" * 30_000
    await rig.share(nb)
    await rig.rounds(2)
    assert rig.je.count("POST", "notebooks", 413) == 1
    rig.je.max_bytes = 100_000  # the service's limit was raised
    await rig.rounds(now=True)
    assert len(rig.je.notebooks) == 1


async def test_a_copy_je_no_longer_knows_is_shared_anew_after_bounded_tries(
        rig: Rig, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.sync")
    sid = await rig.share()
    await rig.rounds()
    old = await rig.link(sid)
    rig.je.notebooks.clear()  # JE lost it: PUT and auth/issue both answer 500
    await rig.store.update(sid, json.dumps(make_notebook("y = 2")), grant=UpdateGrant("student"))
    for _ in range(GONE_AFTER + 3):
        await rig.rounds(now=False)
        await asyncio.sleep(0.03)  # past the share's tiny backoff
    new = await rig.link(sid)
    assert new is not None and new.upstream_id != old.upstream_id
    assert new.synced_version == 2
    assert rig.je.count("POST", "auth/issue", 500) == GONE_AFTER
    logged = [r for r in caplog.records if "no longer knows" in r.getMessage()
              and r.levelno == logging.WARNING]
    assert len(logged) == 1


async def test_a_post_that_keeps_failing_after_a_new_token_is_refused(rig: Rig,
                                                                       caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="kiosk.sync")
    rig.je.post_500 = True
    sid = await rig.share()
    for _ in range(REFUSE_AFTER + 3):
        await rig.rounds()
        await asyncio.sleep(0.03)  # past the share's tiny backoff
    # Each attempt: the POST, a new token, the POST again; then parked for good.
    assert rig.je.count("POST", "notebooks", 500) == 2 * REFUSE_AFTER
    assert await rig.worker.refusals([sid]) == {sid: PERSISTENT_ERROR}
    # A 500 is an answer (JE rolled its transaction back): no possible duplicate.
    assert rig.worker.status().possible_duplicates == 0
    # Logged on the first failure and once refused, not per attempt.
    failures = [r for r in caplog.records if "not sent (attempt" in r.getMessage()]
    assert len(failures) == REFUSE_AFTER - 1
    assert [r.levelno for r in failures if r.levelno >= logging.INFO] == [logging.INFO]
    assert len([r for r in caplog.records if "refused by the upstream" in r.getMessage()]) == 1
    rig.je.post_500 = False
    await rig.store.update(sid, json.dumps(make_notebook("z = 3")), grant=UpdateGrant("student"))
    await rig.rounds()
    assert len(rig.je.notebooks) == 1


async def test_a_reconnect_does_not_reset_the_backoff_of_a_repeating_error(tmp_path) -> None:
    store = sync_store(tmp_path / "s.sqlite3")
    await store.start()
    try:
        a = (await store.create("{}", owner_session="s")).share.id
        b = (await store.create("{}", owner_session="s")).share.id
        await store.execute_write(lambda c: outbox.fail_item(c, a, "POST notebooks answered "
                                                             "500", 300, time.time()))
        await store.execute_write(lambda c: outbox.fail_item(
            c, b, outbox.CONNECTION_ERROR + "cannot connect", 300, time.time()))
        assert await store.execute_write(outbox.reset_after_reconnect) == 1
        due = await store.execute_read(lambda c: outbox.due_items(c, time.time(), 10))
        assert [i.share_id for i in due] == [b]
        assert await store.execute_write(outbox.reset_backoff) == 1  # the teacher: all
    finally:
        await store.close()


async def test_the_extra_auth_header(make_config, tmp_path) -> None:
    je = JEStandIn(now=time.time(), extra_header=("X-Extra-Auth", "s3cret"))
    server = await serve_upstream(je.app())
    try:
        for header, arrives in ((None, False), ("s3cret", True)):
            config = make_config(upstream_url=api_url(server), sync_enabled=True,
                                 upstream_kind="je",
                                 upstream_auth_header="X-Extra-Auth" if header else None,
                                 upstream_auth_value=header)
            store, worker = await start_worker(config, tmp_path / f"{arrives}.sqlite3",
                                               clock=lambda: je.now)
            try:
                await store.create(json.dumps(make_notebook()), owner_session="s")
                worker.sync_now()
                await worker.run_round()
                assert (worker.status().queued == 0) is arrives
                # A secret: never in the status, redacted wherever settings are shown.
                assert "s3cret" not in json.dumps(worker.status().as_json())
                assert config.redacted()["upstream_auth_value"] in (None, "***")
            finally:
                await worker.stop()
                await store.close()
        assert len(je.notebooks) == 1
        # Half of the pair is a clear error, not a header sent empty.
        with pytest.raises(ConfigError, match="upstream_auth_header"):
            make_config(upstream_auth_header="X-Extra-Auth")
        with pytest.raises(ConfigError, match="upstream_auth_header"):
            make_config(upstream_auth_value="s3cret")
    finally:
        await server.close()


async def test_refused_state_site_url_and_privacy_notice_on_the_kiosk(
        aiohttp_client, make_config, capsys) -> None:
    je = JEStandIn(now=time.time(), max_bytes=20_000)
    server = await serve_upstream(je.app())
    config = make_config(upstream_url=api_url(server), sync_enabled=True,
                         upstream_kind="auto", sync_interval=3600,
                         upstream_site_url="https://site.example/")
    client = await aiohttp_client(create_app(config))
    try:
        worker = client.app[SYNC_WORKER]
        status = (await (await client.get("/api/kiosk/status")).json())["sync"]
        assert status["privacy_notice"] == JE_PRIVACY_NOTICE  # before the first upload
        store = client.app[STORE]
        ok = (await store.create(json.dumps(make_notebook()), owner_session="s")).share
        big_nb = make_notebook()
        big_nb["cells"][0]["source"] = "#" * 30_000
        big = (await store.create(json.dumps(big_nb), owner_session="s")).share
        worker.sync_now()
        await worker.run_round()
        answer = await (await client.get(f"/api/kiosk/shares/{big.id}/upstream")).json()
        assert answer["state"] == "refused" and answer["reason"] == REFUSALS[413]
        assert answer["queued"] is False
        answer = await (await client.get(f"/api/kiosk/shares/{ok.id}/upstream")).json()
        assert answer["state"] == "synced"
        assert answer["url"].startswith("https://site.example/lab/index.html?notebook=je-")
        assert worker.status().refused == 1
        # `kiosk sync status` with no kiosk answering reads the store and says it too.
        await asyncio.to_thread(run_status, argparse.Namespace(json=False), config)
        out = capsys.readouterr().out
        assert "privacy:" in out and "domain_id" in out and "refused:       1" in out
        # The teacher's dashboard shows the notice too.
        await sign_in(client)
        page = html.unescape(await (await client.get("/admin")).text())
        assert JE_PRIVACY_NOTICE in page
        # ... and, in the shares table, why the refused one was not sent.
        assert f"not sent: {REFUSALS[413]}" in page
    finally:
        await client.close()
        await server.close()



class _Ceiling(random.Random):
    """Backoff at its ceiling: no retry falls due by itself during the test."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
async def patient_rig(make_config, tmp_path):
    """A rig whose failed shares wait an hour: only the test's "sync now" retries them
    (the worker's own loop would otherwise retry at once, beside the test's rounds)."""
    je = JEStandIn(now=time.time())
    server = await serve_upstream(je.app())
    config = make_config(upstream_url=api_url(server), sync_enabled=True, upstream_kind="je",
                         sync_backoff_base=3600, sync_backoff_max=3600)
    store, worker = await start_worker(config, tmp_path / "s.sqlite3", clock=lambda: je.now,
                                       rng=_Ceiling())
    for _ in range(500):  # the worker's own first round (then it sleeps sync_interval)
        if worker.status().last_round_at is not None and not worker._round_lock.locked():
            break
        await asyncio.sleep(0.01)
    try:
        yield Rig(je, server, store, worker)
    finally:
        await worker.stop()
        await store.close()
        await server.close()


async def _line_failures(rig: Rig, share_id: str, n: int) -> None:
    """``n`` attempts that failed for the line (as a connection error records them)."""
    for _ in range(n):
        await rig.store.execute_write(lambda c: outbox.fail_item(
            c, share_id, outbox.CONNECTION_ERROR + "cannot connect", 3600, time.time()))


async def _streak(rig: Rig, share_id: str, kind: str) -> int:
    unit = await rig.store.execute_read(lambda c: outbox.load_unit(c, share_id))
    assert unit is not None
    return unit.item.repeats(kind)


async def test_failures_of_the_line_do_not_count_toward_a_refusal(patient_rig: Rig) -> None:
    """A share that waited out a bad line is not refused at its first 500 (it was, when
    every failed attempt counted)."""
    rig = patient_rig
    rig.je.post_500 = True
    sid = await rig.share()
    await _line_failures(rig, sid, REFUSE_AFTER - 1)
    await rig.rounds(now=True)
    assert rig.je.count("POST", "notebooks", 500) == 2  # the POST, a new token, again
    assert await rig.worker.refusals([sid]) == {}
    assert await rig.worker.is_queued(sid)
    assert await _streak(rig, sid, SERVER_ERROR) == 1
    # Failures of the line between two 500s keep the streak.
    await _line_failures(rig, sid, 2)
    for _ in range(REFUSE_AFTER - 1):
        await rig.rounds(now=True)
    assert rig.je.count("POST", "notebooks", 500) == 2 * REFUSE_AFTER
    assert await rig.worker.refusals([sid]) == {sid: PERSISTENT_ERROR}
    assert rig.worker.status().possible_duplicates == 0


async def test_failures_of_the_line_do_not_make_a_copy_look_unknown(patient_rig: Rig) -> None:
    rig = patient_rig
    sid = await rig.share()
    await rig.rounds()
    old = await rig.link(sid)
    assert old is not None
    rig.je.notebooks.clear()  # JE lost it: auth/issue for it answers 500
    await rig.store.update(sid, json.dumps(make_notebook("y = 2")), grant=UpdateGrant("student"))
    await _line_failures(rig, sid, GONE_AFTER - 1)
    await rig.rounds(now=True)
    kept = await rig.link(sid)
    assert kept is not None and kept.upstream_id == old.upstream_id  # not shared anew yet
    assert rig.je.count("POST", "auth/issue", 500) == 1
    assert await _streak(rig, sid, UNKNOWN_COPY) == 1
    for _ in range(GONE_AFTER - 1):
        await rig.rounds(now=True)
    assert await rig.link(sid) is None  # forgotten: the next attempt shares it anew
    await rig.rounds(now=True)
    new = await rig.link(sid)
    assert new is not None and new.upstream_id != old.upstream_id
    assert rig.je.count("POST", "auth/issue", 500) == GONE_AFTER
