"""GET /v2/events and friends: Panko v2 filters, shapes, paging and access rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.api.conftest import ClientFactory


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [event["message_id"] for event in response.json()]


def query(*conditions: tuple[str, str, str, str], **extra: Any) -> dict[str, Any]:
    """``q.*`` parameters from (field, op, type, value) tuples."""
    params: dict[str, Any] = {"q.field": [], "q.op": [], "q.type": [], "q.value": []}
    for field, op, type_name, value in conditions:
        params["q.field"].append(field)
        params["q.op"].append(op)
        params["q.type"].append(type_name)
        params["q.value"].append(value)
    return {**params, **extra}


def test_events_come_in_panko_shape_oldest_first(client_for: ClientFactory) -> None:
    response = client_for().get("/v2/events")
    assert ids(response) == ["e1", "e2", "e3", "e4", "e5"]
    first = response.json()[0]
    assert first["event_type"] == "compute.instance.create.end"
    assert first["generated"] == "2026-11-23T10:05:00"
    assert first["raw"] == {}
    traits = {t["name"]: (t["type"], t["value"]) for t in first["traits"]}
    assert traits["memory_mb"] == ("integer", "2048")
    assert traits["ratio"] == ("float", "2.0")
    assert traits["launched_at"] == ("datetime", "2026-11-23T09:00:00")
    assert traits["flavor"] == ("string", "m1.size2048")
    assert response.json()[4]["raw"] == {"payload": {"size": 1}}


@pytest.mark.parametrize(("conditions", "expected"), [
    ([("memory_mb", "ge", "integer", "2048")], ["e1", "e2", "e5"]),
    ([("memory_mb", "lt", "integer", "2048")], ["e3", "e4"]),
    ([("memory_mb", "ne", "integer", "2048")], ["e2", "e3", "e4", "e5"]),
    ([("ratio", "gt", "float", "3.5")], ["e2", "e5"]),
    ([("flavor", "eq", "string", "m1.size512")], ["e3"]),
    ([("flavor", "", "", "m1.size512")], ["e3"]),
    ([("launched_at", "le", "datetime", "2026-11-23T07:00:00Z")], ["e3", "e4", "e5"]),
    ([("event_type", "eq", "string", "compute.instance.create.end")], ["e1", "e2"]),
    ([("message_id", "eq", "string", "e4")], ["e4"]),
    ([("start_timestamp", "ge", "string", "2026-11-23T10:10:00"),
      ("end_timestamp", "le", "string", "2026-11-23T10:20:00")], ["e2", "e3", "e4"]),
    ([("memory_mb", "ge", "integer", "1024"), ("project_id", "eq", "string", "p2")],
     ["e5"]),
    ([("nonexistent", "eq", "string", "x")], []),
])
def test_q_conditions_are_anded_and_typed(
    client_for: ClientFactory, conditions: list[tuple[str, str, str, str]], expected: list[str]
) -> None:
    assert ids(client_for().get("/v2/events", params=query(*conditions))) == expected


def test_sort_limit_and_marker_page_through_everything(client_for: ClientFactory) -> None:
    client = client_for()
    seen: list[str] = []
    marker = None
    while True:
        params: dict[str, Any] = {"sort": "generated:desc", "limit": 2}
        if marker:
            params["marker"] = marker
        page = ids(client.get("/v2/events", params=params))
        seen += page
        if len(page) < 2:
            break
        marker = page[-1]
    assert seen == ["e5", "e4", "e3", "e2", "e1"]


def test_limit_defaults_to_the_configured_value(client_for: ClientFactory) -> None:
    assert ids(client_for(default_api_return_limit=3).get("/v2/events")) == ["e1", "e2", "e3"]


def test_one_event_by_message_id(client_for: ClientFactory) -> None:
    client = client_for()
    assert client.get("/v2/events/e3").json()["event_type"] == "compute.instance.delete.end"
    missing = client.get("/v2/events/nope")
    assert missing.status_code == 404
    assert missing.json()["error_message"]["faultstring"] == "Event nope Not Found"


def test_event_types_and_traits(client_for: ClientFactory) -> None:
    client = client_for()
    assert client.get("/v2/event_types").json() == [
        "compute.instance.create.end", "compute.instance.delete.end",
        "identity.authenticate", "image.upload",
    ]
    described = client.get("/v2/event_types/compute.instance.create.end/traits").json()
    assert {"name": "memory_mb", "type": "integer"} in described
    assert {"name": "launched_at", "type": "datetime"} in described
    values = client.get("/v2/event_types/compute.instance.create.end/traits/memory_mb").json()
    assert sorted(v["value"] for v in values) == ["2048", "4096"]
    assert {v["type"] for v in values} == {"integer"}
    assert client.get("/v2/event_types/image.upload").status_code == 404
    assert client.get("/v2/event_types/unknown/traits").json() == []


def test_capabilities_answer_any_caller(client_for: ClientFactory) -> None:
    response = client_for().get("/v2/capabilities")
    assert response.status_code == 200
    assert response.json()["api"] == {"events:query:simple": True}


# Access rules with real tokens: tests/functional/api/test_keystone.py
