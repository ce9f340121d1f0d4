"""Trait plugins: split, bitfield, timedelta, map — directly and through definitions."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.convert import EventConverter
from pipeline.convert.plugins import (
    BitfieldTraitPlugin,
    MapTraitPlugin,
    SplitterTraitPlugin,
    TimedeltaPlugin,
)
from pipeline.models import Trait
from tests.unit.convert.conftest import make_notification


def plugin_trait(plugin: Any, fields: Any, type_name: str = "text", **payload: Any
                 ) -> Trait | None:
    converter = EventConverter([{"event_type": "*", "traits": {
        "t": {"fields": fields, "type": type_name, "plugin": plugin}}}])
    event = converter.to_event(make_notification(**payload))
    assert event is not None
    return event.trait("t")


@pytest.mark.parametrize(("parameters", "value", "expected"), [
    ({}, "compute.node-01.example", "compute"),
    ({"segment": 1}, "compute.node-01.example", "node-01"),
    ({"segment": 1, "max_split": 1}, "compute.node-01.example", "node-01.example"),
    ({"segment": -1, "separator": "/"}, "arn:heat::p:stacks/web/42", "42"),
    ({"segment": 5}, "a.b", None),
    ({}, 17, None),
])
def test_split(parameters: dict[str, Any], value: Any, expected: str | None) -> None:
    assert SplitterTraitPlugin(**parameters).trait_values([("p", value)]) == [expected]
    trait = plugin_trait({"name": "split", "parameters": parameters}, "payload.v", v=value)
    assert (trait.value if trait else None) == expected


def test_split_as_bare_plugin_name_uses_defaults() -> None:
    trait = plugin_trait("split", "publisher_id")
    assert trait == Trait("t", Trait.TEXT_TYPE, "compute")


def test_bitfield_sets_bits_for_present_and_equal_fields() -> None:
    parameters = {"initial_bitfield": 1, "flags": [
        {"path": "payload.ssh", "bit": 1},
        {"path": "payload.state", "bit": 2, "value": "active"},
        {"path": "payload.absent", "bit": 3}]}
    fields = ["payload.ssh", "payload.state", "payload.absent"]
    spec = {"name": "bitfield", "parameters": parameters}
    assert plugin_trait(spec, fields, "int", ssh=True, state="active").value == 0b111  # type: ignore[union-attr]
    assert plugin_trait(spec, fields, "int", ssh=True, state="stopped").value == 0b011  # type: ignore[union-attr]
    assert plugin_trait(spec, fields, "int").value == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("parameters", [
    {"flags": [{"path": "x"}]}, {"flags": [{"bit": 1}]}, {"flags": ["x"]},
    {"flags": [{"path": "x", "bit": 99}]}, {"flags": [{"path": "x", "bit": 1, "mask": 2}]},
    {"initial_bitfield": "1"},
])
def test_bitfield_rejects_bad_parameters(parameters: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        BitfieldTraitPlugin(**parameters)


def test_timedelta_gives_absolute_seconds_between_two_datetimes() -> None:
    fields = ["payload.start", "payload.end"]
    trait = plugin_trait("timedelta", fields, "float",
                         start="2026-11-23 10:00:00", end="2026-11-23T09:58:30Z")
    assert trait == Trait("t", Trait.FLOAT_TYPE, 90.0)
    assert plugin_trait("timedelta", fields, "int", start="2026-11-23 10:00:00",
                        end="2026-11-23 11:00:00") == Trait("t", Trait.INT_TYPE, 3600)


@pytest.mark.parametrize("payload", [
    {"start": "2026-11-23 10:00:00"}, {"start": "2026-11-23 10:00:00", "end": "soon"}, {},
])
def test_timedelta_without_two_datetimes_gives_no_trait(payload: dict[str, Any]) -> None:
    assert plugin_trait("timedelta", ["payload.start", "payload.end"], "float", **payload) is None
    assert TimedeltaPlugin().trait_values([("a", "2026-11-23"), ("b", "x")]) == []


def test_map_translates_values_with_default_and_case_option() -> None:
    table = {"values": {"success": 1, "failure": 0}, "default": -1}
    spec = {"name": "map", "parameters": table}
    assert plugin_trait(spec, "payload.o", "int", o="success").value == 1  # type: ignore[union-attr]
    assert plugin_trait(spec, "payload.o", "int", o="SUCCESS").value == -1  # type: ignore[union-attr]
    insensitive = {"name": "map", "parameters": {**table, "case_sensitive": False}}
    assert plugin_trait(insensitive, "payload.o", "int", o="SUCCESS").value == 1  # type: ignore[union-attr]
    assert plugin_trait(spec, "payload.o", "int", o=["unhashable"]).value == -1  # type: ignore[union-attr]


def test_map_without_default_leaves_unknown_values_out() -> None:
    spec = {"name": "map", "parameters": {"values": {"a": "A"}}}
    assert plugin_trait(spec, "payload.o", o="zzz") is None
    assert MapTraitPlugin(values={"a": "A"}).trait_values([("p", "a")]) == ["A"]


@pytest.mark.parametrize("parameters", [{}, {"values": {}}, {"values": ["a"]},
                                        {"values": {"a": 1}, "case_sensitive": "no"}])
def test_map_rejects_bad_parameters(parameters: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        MapTraitPlugin(**parameters)


def test_failing_plugin_drops_only_its_trait(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: Any, match_list: Any) -> list[Any]:
        raise RuntimeError("plugin bug")

    monkeypatch.setattr(SplitterTraitPlugin, "trait_values", explode)
    converter = EventConverter([{"event_type": "*", "traits": {
        "t": {"fields": "publisher_id", "plugin": "split"}}}])
    event = converter.to_event(make_notification())
    assert event is not None and event.trait("t") is None
    assert event.trait("service") is not None
