"""The leaked-thread check (tests/threadcheck.py) can fail: each kind of leak is reported."""

from __future__ import annotations

import threading
from pathlib import Path

from kiosk.sharing.store import ShareStore
from tests.threadcheck import describe, leaked_threads


def _start(name: str, *, daemon: bool, until: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=until.wait, name=name, daemon=daemon)
    thread.start()
    return thread


def test_a_non_daemon_thread_left_running_is_reported() -> None:
    before = threading.enumerate()
    release = threading.Event()
    thread = _start("left-behind", daemon=False, until=release)
    try:
        assert leaked_threads(before, grace=0.1) == [thread]
        assert describe([thread]) == "'left-behind' (non-daemon)"
    finally:
        release.set()
        thread.join()
    assert leaked_threads(before, grace=0.1) == []


def test_a_kiosk_thread_is_reported_even_as_a_daemon() -> None:
    before = threading.enumerate()
    release = threading.Event()
    kiosk = _start("kiosk-test-pool_0", daemon=True, until=release)
    other = _start("someone-elses-daemon", daemon=True, until=release)
    try:
        assert leaked_threads(before, grace=0.1) == [kiosk]
    finally:
        release.set()
        kiosk.join()
        other.join()


def test_a_thread_ending_within_the_grace_period_is_not_a_leak() -> None:
    before = threading.enumerate()
    release = threading.Event()
    thread = _start("finishing", daemon=False, until=release)
    threading.Timer(0.2, release.set).start()
    assert leaked_threads(before, grace=3.0) == []
    assert not thread.is_alive()


async def test_a_share_store_never_closed_leaves_its_threads(tmp_path: Path) -> None:
    """The kiosk's real threads are seen: an open store has its writer and checkpointer."""
    before = threading.enumerate()
    store = ShareStore(tmp_path / "s.sqlite3")
    await store.start()
    try:
        names = {t.name for t in leaked_threads(before, grace=0.1)}
        assert {"kiosk-share-store-writer", "kiosk-share-store-checkpointer"} <= names
    finally:
        await store.close()
    # (the loop's default executor, asyncio_0, ends with the loop, after this test)
    assert [t for t in leaked_threads(before) if t.name.startswith("kiosk-")] == []
