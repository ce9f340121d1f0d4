"""Rounds of a comparison: every contender once per round, who goes first rotating.

On a shared, loaded machine the load drifts during a run; running each
contender once per round, in an order that rotates, spreads that drift over
all of them, and the medians over rounds compare like with like.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence


def rotate(names: Sequence[str], round_: int) -> list[str]:
    """``names`` in the order of round ``round_`` (0-based): a different first each round."""
    shift = round_ % len(names)
    return [*names[shift:], *names[:shift]]


def run_rounds(
    contenders: Mapping[str, Callable[[], tuple[float, ...]]],
    repeat: int,
    report: Callable[[int, Mapping[str, tuple[float, ...]]], None],
) -> dict[str, tuple[float, ...]]:
    """Run each contender once per round; ``report(round, figures)`` after each round.

    A contender returns a tuple of figures (the same length every time).
    Returns each contender's figure-wise medians over the rounds.
    """
    found: dict[str, list[tuple[float, ...]]] = {name: [] for name in contenders}
    for round_ in range(repeat):
        for name in rotate(list(contenders), round_):
            found[name].append(contenders[name]())
        report(round_ + 1, {name: runs[-1] for name, runs in found.items()})
    return {
        name: tuple(statistics.median(column) for column in zip(*runs, strict=True))
        for name, runs in found.items()
    }
