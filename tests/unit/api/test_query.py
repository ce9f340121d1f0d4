"""Panko q.* parameters into EventFilter and pagination (no storage involved)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.api.query import BadRequest, Scope, build_filter, pagination
from pipeline.models import UTC


def test_trait_conditions_keep_op_and_type_defaults() -> None:
    event_filter = build_filter(["a", "b", "c"], ["gt"], ["integer", ""], ["1", "x", "y"],
                                Scope())
    assert event_filter.traits_filter == [
        {"key": "a", "integer": 1, "op": "gt"},
        {"key": "b", "string": "x", "op": "eq"},
        {"key": "c", "string": "y", "op": "eq"},
    ]
    assert event_filter.admin_proj is None


def test_event_fields_become_filter_attributes() -> None:
    event_filter = build_filter(
        ["event_type", "message_id", "start_timestamp", "end_timestamp"],
        ["eq", "eq", "ge", "le"], [], ["t", "m", "2026-11-23T10:00:00", "2026-11-23T11:00:00+01:00"],
        Scope(),
    )
    assert (event_filter.event_type, event_filter.message_id) == ("t", "m")
    assert event_filter.start_timestamp == dt.datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert event_filter.end_timestamp == dt.datetime(2026, 11, 23, 10, tzinfo=UTC)


def test_non_admin_scope_adds_project_and_user_conditions_first() -> None:
    event_filter = build_filter(["x"], [], [], ["1"], Scope(user_id="u", project_id="p"))
    assert event_filter.traits_filter[:2] == [
        {"key": "project_id", "string": "p", "op": "eq"},
        {"key": "user_id", "string": "u", "op": "eq"},
    ]


@pytest.mark.parametrize(("value", "admin_proj"), [("true", None), ("Yes", None),
                                                   ("false", "p"), ("0", "p")])
def test_all_tenants_widens_only_when_true(value: str, admin_proj: str | None) -> None:
    event_filter = build_filter(["all_tenants"], [], [], [value], Scope(admin_proj="p"))
    assert event_filter.admin_proj == admin_proj
    assert event_filter.traits_filter == []


@pytest.mark.parametrize("value", ["1.5", "inf", "-inf", "nan", "1e999"])
def test_integer_and_finite_float_checks(value: str) -> None:
    with pytest.raises(BadRequest):
        build_filter(["n"], [], ["integer"], [value], Scope())
    if value != "1.5":
        with pytest.raises(BadRequest):
            build_filter(["n"], [], ["float"], [value], Scope())


def test_pagination_defaults_and_sort_directions() -> None:
    assert pagination([], None, None, 100, 1000) == {"limit": 100, "marker": None, "sort": []}
    assert pagination(["generated", "message_id:desc"], 5, "m", 100, 1000)["sort"] == [
        ("generated", "asc"), ("message_id", "desc")]


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_pagination_limits(limit: int) -> None:
    with pytest.raises(BadRequest, match="limit"):
        pagination([], limit, None, 100, 1000)
