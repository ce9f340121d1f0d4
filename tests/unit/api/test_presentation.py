"""What the tickets page prints: relative times, hourly counts, sparklines."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.api.presentation import ago, exception_of, hourly_counts, message_of, sparkline
from pipeline.models import UTC

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "text"), [
    (dt.timedelta(seconds=5), "just now"),
    (dt.timedelta(minutes=1), "1 minute ago"),
    (dt.timedelta(minutes=3, seconds=59), "3 minutes ago"),
    (dt.timedelta(hours=2), "2 hours ago"),
    (dt.timedelta(days=1), "1 day ago"),
    (dt.timedelta(days=65), "2 months ago"),
    (dt.timedelta(days=800), "2 years ago"),
    (-dt.timedelta(hours=2), "in 2 hours"),
])
def test_ago(delta: dt.timedelta, text: str) -> None:
    assert ago(NOW - delta, NOW) == text


def test_hourly_counts_bucket_the_last_day_oldest_first() -> None:
    times = [NOW - dt.timedelta(minutes=m) for m in (1, 59, 61, 23 * 60 + 30, 25 * 60)]
    times.append(NOW + dt.timedelta(minutes=5))  # clock skew: in the future, ignored
    counts = hourly_counts(times, NOW)
    assert len(counts) == 24
    assert counts[-1] == 2 and counts[-2] == 1 and counts[0] == 1
    assert sum(counts) == 4


def test_sparkline_scales_the_peak_to_the_top() -> None:
    points = [tuple(map(float, p.split(","))) for p in sparkline([0, 2, 4], 10, 20).split()]
    assert points == [(0.0, 19.0), (5.0, 10.0), (10.0, 1.0)]
    flat = sparkline([0] * 24)
    assert {p.split(",")[1] for p in flat.split()} == {"19.0"}


def test_message_and_exception_of_record_data() -> None:
    assert message_of({"message": "first line\nsecond"}) == "first line"
    assert message_of({}) == "(no message)"
    assert exception_of({"formatted_exception": "Traceback ..."}) == "Traceback ..."
    assert exception_of({"exception_name": "KeyError", "exception_message": "'x'"}) == (
        "KeyError: 'x'")
    assert exception_of({"message": "fine"}) is None
