"""Progress of a long import on standard error: done, rate and time left.

On a terminal one line is redrawn in place at most every ``interval``
seconds; elsewhere (a pipe, a log file, CI) a plain line is printed every
``quiet_interval`` seconds, so logs stay short and still show that the
import moves. The clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """``events 12,000/100,000  12%  5,400/s  ETA 0:00:14`` for ``total`` items."""

    def __init__(
        self,
        total: int,
        unit: str,
        stream: TextIO,
        *,
        interval: float = 0.2,
        quiet_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.unit = unit
        self.stream = stream
        self.interactive = stream.isatty()
        self.interval = interval if self.interactive else quiet_interval
        self.clock = clock
        self.started = clock()
        self._shown = self.started
        self.done = 0

    def render(self) -> str:
        """The progress line (without line ending)."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.unit} {self.done:,}/{self.total:,}"
        if self.total:
            text += f"  {100 * min(self.done, self.total) // self.total:3d}%"
        text += f"  {rate:,.0f}/s"
        if rate > 0 and self.total > self.done:
            text += f"  ETA {_duration((self.total - self.done) / rate)}"
        return text + f"  elapsed {_duration(elapsed)}"

    def advance(self, count: int) -> None:
        """Count ``count`` more items done; redraw when the interval has passed."""
        self.done += count
        now = self.clock()
        if now - self._shown >= self.interval:
            self._shown = now
            self._show()

    def finish(self) -> None:
        """Draw the final line and end it."""
        self._show()
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self) -> None:
        if self.interactive:
            # \x1b[K clears what a longer earlier line left to the right.
            self.stream.write("\r" + self.render() + "\x1b[K")
        else:
            self.stream.write(self.render() + "\n")
        self.stream.flush()
