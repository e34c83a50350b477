"""The leaked-thread check every test runs under (the autouse fixture in tests/conftest.py).

A test may start threads, but must not leave them behind: a thread still running after
the test is work nobody waits for (a server not stopped, an executor not shut down, a
kiosk app not cleaned up), and it slows or breaks the tests after it. Checked after each
test, on the threads that did not exist before it:

* every **non-daemon** thread (the interpreter would wait for it at exit), and
* every **kiosk** thread, daemon or not: the kiosk names all of its threads ``kiosk-…``
  (the database's writer, checkpointer and readers, the share pool, the compressor), so
  an in-process app that was never closed shows here.

Stragglers get :data:`GRACE_SECONDS` to finish (an executor shut down without waiting
ends its idle workers a moment later). Threads that a third-party library keeps for the
life of the process are listed in :data:`LIFETIME_THREADS` with the reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

GRACE_SECONDS = 2.0
KIOSK_PREFIX = "kiosk-"
#: name prefix → why a third-party library keeps it for the process's lifetime
LIFETIME_THREADS: dict[str, str] = {}


def is_checked(thread: threading.Thread) -> bool:
    """Whether a thread left behind by a test counts as a leak."""
    if thread.name.startswith(tuple(LIFETIME_THREADS)):
        return False
    return not thread.daemon or thread.name.startswith(KIOSK_PREFIX)


def leaked_threads(before: Iterable[threading.Thread],
                   grace: float = GRACE_SECONDS) -> list[threading.Thread]:
    """The checked threads alive now that were not in ``before``, after up to ``grace``
    seconds for them to end."""
    known = set(before)
    deadline = time.monotonic() + grace
    while True:
        leaked = [t for t in threading.enumerate()
                  if t not in known and t.is_alive() and is_checked(t)]
        if not leaked or time.monotonic() >= deadline:
            return leaked
        time.sleep(0.02)


def describe(threads: Iterable[threading.Thread]) -> str:
    return ", ".join(f"{t.name!r} ({'daemon' if t.daemon else 'non-daemon'})"
                     for t in threads)
