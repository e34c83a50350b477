"""Students seen in the last few minutes, counted in memory and never stored.

Every answer the kiosk sends passes through :func:`record_client` (an
``on_response_prepare`` hook). It keeps a keyed hash of the client's address (HMAC
with a random key made when the process starts and never written anywhere) and the
time it was last seen. The dashboard only ever shows how many distinct hashes were
seen within the window; no address is kept, logged or written to disk, and a restart
forgets everything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

WINDOW_SECONDS = 300.0
_PRUNE_EVERY = 512


class RecentClients:
    """Distinct clients seen within ``window`` seconds, keyed by an HMAC of the address."""

    def __init__(self, *, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._key = secrets.token_bytes(32)  # per process: hashes mean nothing after exit
        self._seen: dict[bytes, float] = {}
        self._calls = 0

    def _digest(self, address: str) -> bytes:
        return hmac.new(self._key, address.encode(), hashlib.sha256).digest()[:16]

    def seen(self, address: str | None) -> None:
        """Note one request from ``address`` (None or empty: not counted)."""
        if not address:
            return
        now = self._clock()
        self._seen[self._digest(address)] = now
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self.prune(now)

    def prune(self, now: float | None = None) -> None:
        """Forget clients not seen within the window."""
        horizon = (self._clock() if now is None else now) - self.window
        for digest in [d for d, at in self._seen.items() if at < horizon]:
            del self._seen[digest]

    def count(self) -> int:
        """How many distinct clients were seen within the window."""
        self.prune()
        return len(self._seen)
