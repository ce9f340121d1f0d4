"""EventConverter: dicts in, Events out — types, patterns, precedence, defaults, options."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.convert import EventConverter
from pipeline.exceptions import ConversionError
from pipeline.models import UTC, Event, Trait
from tests.unit.convert.conftest import WHEN, make_notification


def convert(definitions: list[dict[str, Any]], notification: dict[str, Any], **options: Any
            ) -> Event:
    event = EventConverter(definitions, **options).to_event(notification)
    assert event is not None
    return event


def traits(event: Event) -> dict[str, Any]:
    return {trait.name: trait.value for trait in event.traits}


def one_trait(spec: dict[str, Any], **payload: Any) -> Trait | None:
    event = convert([{"event_type": "*", "traits": {"t": spec}}], make_notification(**payload))
    return event.trait("t")


def test_envelope_fields_become_message_id_event_type_and_generated() -> None:
    event = convert([], make_notification("compute.instance.update"))
    assert (event.message_id, event.event_type, event.generated) == (
        "m-1", "compute.instance.update", WHEN)
    assert event.raw is None


@pytest.mark.parametrize(("spec", "value", "expected"), [
    ({"type": "text"}, "abc", Trait("t", Trait.TEXT_TYPE, "abc")),
    ({}, 42, Trait("t", Trait.TEXT_TYPE, "42")),
    ({"type": "int"}, 42, Trait("t", Trait.INT_TYPE, 42)),
    ({"type": "int"}, "42", Trait("t", Trait.INT_TYPE, 42)),
    ({"type": "int"}, 4.0, Trait("t", Trait.INT_TYPE, 4)),
    ({"type": "int"}, True, Trait("t", Trait.INT_TYPE, 1)),
    ({"type": "float"}, "2.5", Trait("t", Trait.FLOAT_TYPE, 2.5)),
    ({"type": "float"}, 3, Trait("t", Trait.FLOAT_TYPE, 3.0)),
    ({"type": "datetime"}, "2026-11-23 09:00:00.5",
     Trait("t", Trait.DATETIME_TYPE, dt.datetime(2026, 11, 23, 9, 0, 0, 500000, tzinfo=UTC))),
    ({"type": "datetime"}, "2026-11-23T11:00:00+02:00",
     Trait("t", Trait.DATETIME_TYPE, dt.datetime(2026, 11, 23, 9, tzinfo=UTC))),
])
def test_values_are_converted_to_the_trait_type(
    spec: dict[str, Any], value: Any, expected: Trait
) -> None:
    assert one_trait({"fields": "payload.v", **spec}, v=value) == expected


@pytest.mark.parametrize(("type_name", "value"), [
    ("int", "four"), ("int", 4.5), ("int", 2**70), ("int", [1]), ("int", ""),
    ("float", "x"), ("float", {"a": 1}), ("float", ""),
    ("datetime", "tomorrow"), ("datetime", 17), ("datetime", ""),
])
def test_unconvertible_value_drops_the_trait_and_keeps_the_event(
    type_name: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="pipeline.convert")
    event = convert([{"event_type": "*", "traits": {
        "bad": {"fields": "payload.v", "type": type_name},
        "good": {"fields": "payload.w", "type": "int"}}}], make_notification(v=value, w=7))
    assert event.trait("bad") is None
    assert event.trait("good") == Trait("good", Trait.INT_TYPE, 7)
    if value != "":  # nova's '' for unset dates is silently "no value"
        assert "trait bad dropped" in caplog.text


def test_text_trait_keeps_an_empty_string() -> None:
    assert one_trait({"fields": "payload.v"}, v="") == Trait("t", Trait.TEXT_TYPE, "")


def test_missing_and_null_fields_give_no_trait() -> None:
    assert one_trait({"fields": "payload.nothing"}) is None
    assert one_trait({"fields": "payload.v"}, v=None) is None
    assert one_trait({"fields": "payload.v.deeper"}, v="text") is None


def test_first_non_null_field_of_an_or_list_wins() -> None:
    spec = {"fields": ["payload.a", "payload.b", "payload.c"]}
    assert one_trait(spec, a=None, b="second", c="third").value == "second"
    assert one_trait(spec, a="first", b="second").value == "first"
    assert one_trait(spec, c="third").value == "third"
    assert one_trait(spec) is None


def test_plain_paths_reach_into_lists_quoted_keys_and_the_root() -> None:
    notification = make_notification(
        ips=[{"address": "10.0.0.5"}], meta={"org.openstack__1__os": "ubuntu"})
    event = convert([{"event_type": "*", "traits": {
        "ip": {"fields": "payload.ips[0].address"},
        "missing_ip": {"fields": "payload.ips[3].address"},
        "os": {"fields": "payload.meta.'org.openstack__1__os'"},
        "rooted": {"fields": "$.publisher_id"}}}], notification)
    found = traits(event)
    assert (found["ip"], found["os"], found["rooted"]) == ("10.0.0.5", "ubuntu", "compute.node-01")
    assert event.trait("missing_ip") is None


def test_jsonpath_expressions_beyond_plain_paths_work() -> None:
    notification = make_notification(
        glance_metadata=[{"key": "image_name", "value": "cirros"},
                         {"key": "image_id", "value": "img-1"}],
        ips=[{"address": None}, {"address": "10.0.0.6"}])
    event = convert([{"event_type": "*", "traits": {
        "image_id": {"fields": "payload.glance_metadata[?key='image_id'].value"},
        "any_ip": {"fields": "payload.ips[*].address"},
        "host": {"fields": "publisher_id.`split(., 1, 1)`"}}}], notification)
    assert event.trait("image_id").value == "img-1"  # type: ignore[union-attr]
    assert event.trait("any_ip").value == "10.0.0.6"  # type: ignore[union-attr]
    assert event.trait("host").value == "node-01"  # type: ignore[union-attr]


@pytest.mark.parametrize(("patterns", "event_type", "matches"), [
    ("compute.instance.*", "compute.instance.create.end", True),
    ("compute.instance.*", "compute.instancex", False),
    ("compute.instance.*", "Compute.instance.create", False),
    (["image.*", "!image.send"], "image.upload", True),
    (["image.*", "!image.send"], "image.send", False),
    (["!image.send"], "volume.create.end", True),
    (["!image.send", "!volume.*"], "volume.create.end", False),
    (["a.?", "b.[xy]"], "b.y", True),
    (["a.?", "b.[xy]"], "a.bc", False),
])
def test_glob_patterns_and_exclusions(patterns: Any, event_type: str, matches: bool) -> None:
    converter = EventConverter([{"event_type": patterns, "traits": {
        "hit": {"fields": "publisher_id"}}}])
    event = converter.to_event(make_notification(event_type))
    assert event is not None
    assert (event.trait("hit") is not None) is matches


def test_last_matching_definition_wins() -> None:
    definitions = [
        {"event_type": "compute.*", "traits": {"which": {"fields": "payload.first"}}},
        {"event_type": "compute.instance.*", "traits": {"which": {"fields": "payload.second"}}},
        {"event_type": "volume.*", "traits": {"which": {"fields": "payload.third"}}},
    ]
    converter = EventConverter(definitions)
    notification = make_notification(first="1", second="2", third="3")
    assert converter.to_event(notification).trait("which").value == "2"  # type: ignore[union-attr]
    other = make_notification("compute.node.update", first="1", second="2")
    assert converter.to_event(other).trait("which").value == "1"  # type: ignore[union-attr]
    # Cached lookups give the same answers.
    assert converter.to_event(notification).trait("which").value == "2"  # type: ignore[union-attr]


def test_default_traits_come_from_payload_then_context() -> None:
    event = convert([], make_notification(tenant_id="payload-project", user_id="payload-user"))
    assert traits(event) == {
        "service": "compute.node-01", "request_id": "req-1",
        "project_id": "payload-project", "tenant_id": "payload-project",
        "user_id": "payload-user"}
    from_context = convert([], make_notification())
    assert traits(from_context)["project_id"] == "ctx-project"
    assert traits(from_context)["user_id"] == "ctx-user"


def test_default_traits_from_legacy_context_keys_and_a_context_dict() -> None:
    legacy = make_notification()
    for key in ("_context_project_id", "_context_user_id", "_context_request_id"):
        del legacy[key]
    legacy.update(_context_tenant="old-tenant", _context_user="old-user")
    assert traits(convert([], legacy))["tenant_id"] == "old-tenant"
    assert traits(convert([], legacy))["user_id"] == "old-user"
    modern = dict(legacy, context={"request_id": "req-9", "project_id": "p"})
    del modern["_context_tenant"]
    assert traits(convert([], modern))["request_id"] == "req-9"
    assert traits(convert([], modern))["project_id"] == "p"


def test_a_definition_overrides_a_default_trait() -> None:
    event = convert([{"event_type": "*", "traits": {
        "service": {"fields": "publisher_id", "plugin": "split"}}}], make_notification())
    assert traits(event)["service"] == "compute"


def test_unmatched_notification_keeps_default_traits_unless_dropped() -> None:
    definitions = [{"event_type": "volume.*", "traits": {"size": {"fields": "payload.size"}}}]
    kept = EventConverter(definitions).to_event(make_notification(size=5))
    assert kept is not None
    assert set(traits(kept)) == {"service", "request_id", "project_id", "tenant_id", "user_id"}
    dropper = EventConverter(definitions, drop_unmatched=True)
    assert dropper.to_event(make_notification(size=5)) is None
    assert dropper.to_event(make_notification("volume.create.end", size=5)) is not None


def test_store_raw_keeps_the_notification_for_listed_priorities_only() -> None:
    converter = EventConverter([], store_raw=["ERROR", "critical"])
    error = dict(make_notification(x=1), priority="error")
    event = converter.to_event(error)
    assert event is not None and event.raw is not None
    assert event.raw["payload"] == {"x": 1}
    assert event.raw["timestamp"] == "2026-11-23T10:00:00+00:00"  # JSON-safe
    assert converter.to_event(make_notification(x=1)).raw is None  # type: ignore[union-attr]
    assert EventConverter([]).to_event(error).raw is None  # type: ignore[union-attr]


@pytest.mark.parametrize("notification", [
    "not a dict", {}, {"message_id": 1, "event_type": "a", "timestamp": WHEN},
    {"message_id": "", "event_type": "a", "timestamp": WHEN},
    {"message_id": "m", "event_type": "a",
     "timestamp": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))},
    {"message_id": "m", "event_type": None, "timestamp": WHEN},
    {"message_id": "m", "event_type": "a"},
    {"message_id": "m", "event_type": "a", "timestamp": "garbage"},
])
def test_notification_without_id_type_or_time_raises_conversion_error(notification: Any) -> None:
    with pytest.raises(ConversionError):
        EventConverter([]).to_event(notification)


def test_text_timestamp_is_accepted_when_not_decoded() -> None:
    notification = dict(make_notification(), timestamp="2026-11-23 10:00:00")
    assert EventConverter([]).to_event(notification).generated == WHEN  # type: ignore[union-attr]


def test_many_distinct_event_types_do_not_grow_the_cache_without_bound() -> None:
    converter = EventConverter([{"event_type": "x.*", "traits": {}}])
    for index in range(5000):
        converter.to_event(make_notification(f"x.{index}"))
    assert len(converter._by_type) <= 4096
    assert converter.definition_for("x.99999") is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.datetimes(timezones=st.none() | st.timezones()),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


ANY_DICT_CONVERTER = EventConverter(
    [{"event_type": "*", "traits": {
        "n": {"fields": ["payload.n", "payload"], "type": "int"},
        "f": {"fields": "payload.f", "type": "float"},
        "d": {"fields": ["payload.d", "timestamp"], "type": "datetime"},
        "s": {"fields": "publisher_id", "plugin": "split"}}}],
    store_raw=["info"])


@settings(max_examples=200, deadline=None)
@given(notification=st.fixed_dictionaries({}, optional={
    key: json_values for key in ("message_id", "event_type", "timestamp", "priority",
                                 "publisher_id", "payload", "_context_tenant")}))
def test_any_dict_gives_an_event_or_a_conversion_error(notification: dict[str, Any]) -> None:
    """to_event is safe on dicts that did not come from decode_notification."""
    try:
        event = ANY_DICT_CONVERTER.to_event(notification)
    except ConversionError:
        return
    assert isinstance(event, Event)
    assert event.generated.utcoffset() == dt.timedelta(0)
