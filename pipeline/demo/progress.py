"""A plain-text progress bar on a stream (stderr), no dependency needed.

On a terminal the bar redraws in place; elsewhere (a pipe, a CI log) it
prints one line per quarter so logs stay short.
"""

from __future__ import annotations

from typing import TextIO


class ProgressBar:
    """``[#####-----]  50%  1000/2000 <label>`` for ``total`` steps."""

    def __init__(self, total: int, label: str, stream: TextIO, width: int = 30) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream
        self.width = width
        self.interactive = stream.isatty()
        self._last_quarter = -1

    def render(self, done: int) -> str:
        """The bar for ``done`` steps, without line ending."""
        done = min(done, self.total)
        filled = self.width * done // self.total
        percent = 100 * done // self.total
        return (
            f"[{'#' * filled}{'-' * (self.width - filled)}] {percent:3d}%  "
            f"{done}/{self.total} {self.label}"
        )

    def update(self, done: int) -> None:
        """Show progress ``done`` (drawn in place on a terminal)."""
        if self.interactive:
            self.stream.write("\r" + self.render(done))
            self.stream.flush()
            return
        quarter = 4 * min(done, self.total) // self.total
        if quarter > self._last_quarter:
            self._last_quarter = quarter
            self.stream.write(self.render(done) + "\n")
            self.stream.flush()

    def finish(self, done: int) -> None:
        """Draw the final state and end the line."""
        self.update(done)
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
