"""Exponential back-off with jitter, for retrying a batch while storage is down.

Delays double from ``initial`` up to ``maximum``; each actual pause is drawn
uniformly from ``[delay / 2, delay]`` ("equal jitter") so that many consumers
that lost the database at the same moment do not all come back at the same
instant, while the pause still grows.

Pausing is delegated to a ``wait`` callable so the consumer can keep its
broker connection alive (drain events, send heartbeats) instead of sleeping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator


class Backoff:
    """The sequence of pauses between attempts.

    ``next_delay()`` returns the next pause in seconds; ``reset()`` starts
    again from ``initial`` after a success.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError(
                f"need 0 < initial <= maximum and factor >= 1, got "
                f"initial={initial} maximum={maximum} factor={factor}"
            )
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rng = rng or random.Random()
        self._ceiling = initial

    def next_delay(self) -> float:
        """The next pause: a jittered value in [ceiling/2, ceiling]."""
        ceiling = self._ceiling
        self._ceiling = min(self.maximum, ceiling * self.factor)
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Start again from the initial delay."""
        self._ceiling = self.initial

    def __iter__(self) -> Iterator[float]:
        while True:
            yield self.next_delay()


def pause(
    seconds: float,
    keepalive: Callable[[float], None] | None = None,
    step: float = 0.5,
    interrupted: Callable[[], bool] | None = None,
) -> None:
    """Spend ``seconds``, calling ``keepalive(timeout)`` in slices of ``step``.

    ``keepalive`` is expected to block for at most its timeout (e.g. drain
    broker events); without one this sleeps in slices. Returns early once
    ``interrupted()`` is true (a stop must not wait for a long back-off).
    Exceptions from ``keepalive`` propagate: a lost broker connection ends
    the pause.
    """
    deadline = time.monotonic() + seconds
    while interrupted is None or not interrupted():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if keepalive is None:
            time.sleep(min(step, left))
        else:
            keepalive(min(step, left))
