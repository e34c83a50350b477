"""Per-client sliding-window rate limits, in memory only.

Client addresses are used as keys while they are in the window and never written
anywhere; a restart forgets them. A class never meets the limits (each student asks
for a token once and shares a few times a minute at most); a runaway loop does.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable

from kiosk.errors import TooManyRequests

WINDOW_SECONDS = 60.0
_SWEEP_EVERY = 1024


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` seconds per key (an exact sliding log)."""

    def __init__(self, limit: int, *, window: float = WINDOW_SECONDS, what: str = "requests",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.what = what
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._calls = 0

    def hit(self, key: str) -> None:
        """Count one event for ``key``, or raise :class:`TooManyRequests` (with Retry-After)."""
        now = self._clock()
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            self._sweep(now)
        events = self._events.setdefault(key, deque())
        horizon = now - self.window
        while events and events[0] <= horizon:
            events.popleft()
        if len(events) >= self.limit:
            retry = math.ceil(events[0] + self.window - now)
            raise TooManyRequests(
                f"Too many {self.what} from this device: at most {self.limit} a minute. "
                f"Try again in {max(1, retry)} s.", retry_after=max(1, retry))
        events.append(now)

    def forget_last(self, key: str) -> None:
        """Take back the last event counted for ``key`` (a check that was not an event)."""
        events = self._events.get(key)
        if events:
            events.pop()

    def __len__(self) -> int:
        return len(self._events)

    def _sweep(self, now: float) -> None:
        """Forget keys whose events have all left the window (bounds the memory)."""
        horizon = now - self.window
        for key in [k for k, ev in self._events.items() if not ev or ev[-1] <= horizon]:
            del self._events[key]


class MissLimiter:
    """Counts a client's failed lookups (404s) and refuses all its lookups past ``limit``.

    Hits cost nothing, so a class opening its links never meets it; a loop guessing ids
    gets 429 after ``limit`` misses in ``window`` seconds.
    """

    def __init__(self, limit: int, *, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = SlidingWindowLimiter(limit, window=window, what="links that do not exist",
                                         clock=clock)

    @property
    def limit(self) -> int:
        return self._log.limit

    def check(self, key: str) -> None:
        """Raise :class:`TooManyRequests` if ``key`` has used up its misses."""
        self._log.hit(key)
        self._log.forget_last(key)

    def miss(self, key: str) -> None:
        """Count one miss for ``key`` (never raises: the 404 still goes out)."""
        with contextlib.suppress(TooManyRequests):
            self._log.hit(key)


class ConcurrencyLimiter:
    """At most ``per_key`` things in progress per key and ``total`` in all (in memory).

    For waits that hold a connection open (downloads, sleeps, relayed input()): a
    client that opens more gets 429 at once instead of exhausting the kiosk's sockets.
    Use as ``with limiter.hold(key): ...``.
    """

    def __init__(self, per_key: int, total: int, *, what: str) -> None:
        self.per_key = per_key
        self.total = total
        self.what = what
        self._counts: dict[str, int] = {}
        self._total = 0

    def hold(self, key: str) -> _Held:
        if self._counts.get(key, 0) >= self.per_key:
            raise TooManyRequests(
                f"Too many {self.what} at once from this device (at most {self.per_key}); "
                "wait for one to finish.", retry_after=5)
        if self._total >= self.total:
            raise TooManyRequests(
                f"The kiosk is handling as many {self.what} as it can ({self.total}); "
                "try again in a moment.", retry_after=5)
        self._counts[key] = self._counts.get(key, 0) + 1
        self._total += 1
        return _Held(self, key)

    def in_use(self, key: str | None = None) -> int:
        return self._total if key is None else self._counts.get(key, 0)

    def _release(self, key: str) -> None:
        self._total -= 1
        left = self._counts[key] - 1
        if left:
            self._counts[key] = left
        else:
            del self._counts[key]


class _Held:
    """One slot of a :class:`ConcurrencyLimiter`, released on leaving the ``with``."""

    def __init__(self, limiter: ConcurrencyLimiter, key: str) -> None:
        self._limiter = limiter
        self._key: str | None = key

    def __enter__(self) -> _Held:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._key is not None:
            self._limiter._release(self._key)
            self._key = None
