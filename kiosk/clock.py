"""Can the wall clock be believed? A Raspberry Pi has no battery clock.

It boots reading 1970 (or the time of its last shutdown) and jumps when a time source
appears, possibly while the kiosk runs. The kiosk still serves and saves in between;
what it must not do is act on a date it cannot trust:

* **Trust.** The clock is trusted when it reads no earlier than a floor: this
  release's date (:data:`RELEASE_TIME`, no kiosk of this version ran before it) and
  the newest share (a clock earlier than work already saved went back).
  :func:`judge` gives the verdict and its reason.
* **Retention** runs only on a trusted clock, and the housekeeping first re-stamps
  rows stamped by an unset clock (before :data:`UNSET_BEFORE`: their time is unknown,
  so it counts from when the clock was set): a share made in "1970" is not 56 years old.
* **Tokens** stamped by an unset clock (``iat`` before :data:`UNSET_BEFORE`) have a
  meaningless expiry; they are valid for the token lifetime counted from
  :attr:`ClockGuard.set_at`, the moment this kiosk first saw a trusted clock after an
  untrusted one (kept in ``<data_dir>/clock.json``). While the clock is untrusted, a
  token's dates are not checked at all, only its signature.
* ``/healthz`` and ``/api/kiosk/status`` say "clock not set" while it is untrusted
  (:mod:`kiosk.clockcheck`). Durations (rate limits, backoff, caches) use ``time.monotonic``.

A core module: the app factory makes the one guard (:data:`CLOCK_GUARD`), sharing judges
its tokens and retention by it, and :mod:`kiosk.clockcheck` reports it.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

_LOGGER = logging.getLogger(__name__)

# No kiosk of this version ran before this date: a clock reading earlier is not set.
# Move it forward at each release (a test checks it is not in the future).
RELEASE_TIME = float(calendar.timegm((2026, 12, 1, 0, 0, 0)))
# A time stamp earlier than this was made by a clock that was not set: no kiosk existed
# then. (Not the release date: shares and tokens of an older version are genuine.)
UNSET_BEFORE = float(calendar.timegm((2024, 1, 1, 0, 0, 0)))
STATE_FILE = "clock.json"
# A clock that stepped back by less than this (an NTP correction) is still trusted.
SLACK_SECONDS = 300.0


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@dataclass(frozen=True, slots=True)
class ClockVerdict:
    """Whether the wall clock reading ``now`` can be believed, and why not."""

    trusted: bool
    now: float
    floor: float
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"trusted": self.trusted, "now": iso(self.now), "floor": iso(self.floor),
                "reason": self.reason}


def judge(now: float, *, newest: float | None = None,
          release: float = RELEASE_TIME) -> ClockVerdict:
    """The verdict on ``now``, given the newest share time stamped by a trusted clock."""
    if now < release:
        return ClockVerdict(False, now, release,
                            f"clock not set: it reads {iso(now)}, before this kiosk "
                            f"version's release ({iso(release)[:10]}); retention is paused")
    if newest is not None and now < newest - SLACK_SECONDS:
        return ClockVerdict(False, now, newest,
                            f"clock not set: it reads {iso(now)}, earlier than the newest "
                            f"share ({iso(newest)}); retention is paused")
    return ClockVerdict(True, now, max(release, newest or release))


class ClockGuard:
    """The kiosk's view of its clock: the floor, and when it was last set.

    ``refresh`` (blocking: it may write ``clock.json``) runs in the housekeeping
    thread; ``verdict`` and ``token_usable`` are cheap and safe on the event loop.
    """

    def __init__(self, data_dir: Path, *, release: float = RELEASE_TIME,
                 wall: Callable[[], float] = time.time) -> None:
        self.path = data_dir / STATE_FILE
        self.release = release
        self.wall = wall
        self.newest: float | None = None
        self.set_at: float | None = None
        self.pending = False  # an untrusted clock was seen; set_at not yet recorded
        self._loaded = False

    def verdict(self) -> ClockVerdict:
        return judge(self.wall(), newest=self.newest, release=self.release)

    @staticmethod
    def untrusted_stamp(t: float) -> bool:
        """Was ``t`` written by a clock that was not set?"""
        return t < UNSET_BEFORE

    def note_newest(self, t: float | None) -> None:
        """The newest share time in the store (only trusted stamps raise the floor)."""
        if t is not None and not self.untrusted_stamp(t):
            self.newest = t if self.newest is None else max(self.newest, t)

    def refresh(self) -> ClockVerdict:
        """Judge the clock now; record an untrusted episode and its end (blocking)."""
        if not self._loaded:
            self._load()
        verdict = self.verdict()
        if not verdict.trusted:
            if not self.pending:
                self.pending, self.set_at = True, None
                self._save()
        elif self.pending or self.set_at is None:
            self.pending, self.set_at = False, verdict.now
            self._save()
        return verdict

    def token_usable(self, issued_at: int, expires_at: int, lifetime: float) -> bool:
        """Whether a correctly signed token is still within its lifetime."""
        verdict = self.verdict()
        if not verdict.trusted:
            return True  # dates mean nothing now; the signature is what counts
        if self.untrusted_stamp(issued_at):
            start = self.set_at if self.set_at is not None else verdict.now
            return verdict.now < start + lifetime
        return verdict.now < expires_at

    def _load(self) -> None:
        self._loaded = True
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            _LOGGER.warning("ignoring %s: %s", self.path, exc)
            return
        if isinstance(data, dict):
            set_at = data.get("set_at")
            self.set_at = float(set_at) if isinstance(set_at, int | float) else None
            self.pending = bool(data.get("pending", False))

    def _save(self) -> None:
        tmp = self.path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp.write_text(json.dumps({"set_at": self.set_at, "pending": self.pending}),
                           encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            _LOGGER.warning("cannot record the clock state in %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()


#: the kiosk's one guard, made by the app factory (sharing and the clock check read it)
CLOCK_GUARD = web.AppKey("clock_guard", ClockGuard)

