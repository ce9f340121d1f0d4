"""benchmarks/corpus.py, which other tests and benchmarks reuse: seeded and well-formed."""

from __future__ import annotations

import json

import pytest

from benchmarks import convert as convert_benchmark
from benchmarks import corpus
from pipeline.convert import decode_notification


def test_same_seed_same_corpus_other_seed_other_corpus() -> None:
    assert corpus.notifications(40, seed=5) == corpus.notifications(40, seed=5)
    assert corpus.bodies(40, seed=5) == corpus.bodies(40, seed=5)
    assert corpus.notifications(40, seed=5) != corpus.notifications(40, seed=6)


def test_notifications_cover_every_service_with_unique_ids_and_rising_times() -> None:
    notifications = corpus.notifications(600, seed=2)
    prefixes = {n["publisher_id"].split(".")[0] for n in notifications}
    assert prefixes == {"compute", "network", "volume", "identity", "image", "orchestration"}
    assert len({n["message_id"] for n in notifications}) == 600
    stamps = [decode_notification(n)["timestamp"] for n in notifications]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(("share", "expected_v2"), [(0.0, 0), (1.0, 50)])
def test_envelopes_wrap_the_requested_share_in_v2(share: float, expected_v2: int) -> None:
    envelopes = corpus.envelopes(50, seed=3, v2_share=share)
    assert sum("oslo.message" in e for e in envelopes) == expected_v2


def test_bodies_decode_to_the_notifications() -> None:
    notifications = corpus.notifications(30, seed=4)
    decoded = [decode_notification(body) for body in corpus.bodies(30, seed=4)]
    assert [d["message_id"] for d in decoded] == [n["message_id"] for n in notifications]
    assert [d["payload"] for d in decoded] == [n["payload"] for n in notifications]
    assert all(json.loads(body) for body in corpus.bodies(3, seed=4))


def test_every_event_type_can_be_generated_alone() -> None:
    for event_type in corpus.EVENT_TYPES:
        notification = corpus.notification(event_type, 9)
        assert notification["event_type"] == event_type
        assert notification == corpus.notification(event_type, 9)


def test_conversion_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The benchmark script keeps working (its rates on a tiny run are not judged)."""
    convert_benchmark.main(["--count", "200", "--repeat", "1", "--batch", "50"])
    out = capsys.readouterr().out
    assert "200 notifications" in out
    assert "decode+convert" in out and "target of 15,000/s" in out
