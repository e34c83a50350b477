"""How the builder tells a person what it is doing: numbered steps and details."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints ``[3/10] step`` lines, indented details and a final timing."""

    def __init__(self, total: int, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.started = time.monotonic()
        self._step_started = self.started
        self.current = ""

    def step(self, what: str) -> None:
        """Start the next step (and say how long the previous one took)."""
        self.finish_step()
        self.done += 1
        self.current = what
        self._step_started = time.monotonic()
        self._write(f"[{self.done}/{self.total}] {what}")

    def finish_step(self) -> None:
        """Report the duration of the step in progress, if any."""
        if self.current:
            self._write(f"      ({time.monotonic() - self._step_started:.1f} s)")
            self.current = ""

    def say(self, detail: str) -> None:
        """A detail of the current step."""
        self._write(f"      {detail}")

    def bar(self, done: int, total: int) -> None:
        """A one-line counter for long loops (rewritten in place on a terminal)."""
        if self.quiet or total <= 0:
            return
        if self.stream.isatty():
            width = 30
            filled = int(width * done / total)
            self.stream.write(f"\r      [{'#' * filled}{'.' * (width - filled)}] "
                              f"{done}/{total}")
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        elif done == total or done % max(1, total // 4) == 0:
            self._write(f"      {done}/{total}")

    def elapsed(self) -> float:
        """Seconds since the build started."""
        return time.monotonic() - self.started

    def _write(self, line: str) -> None:
        if not self.quiet:
            self.stream.write(line + "\n")
            self.stream.flush()
