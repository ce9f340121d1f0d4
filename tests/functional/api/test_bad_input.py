"""Malformed or hostile requests get a 400 with a message, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.api.conftest import ClientFactory
from tests.functional.api.test_events import query

MONGO_OPERATOR = '{"$gt": ""}'
SQL_INJECTION = "x' OR '1'='1'; DROP TABLE event; --"

BAD_EVENT_QUERIES = [
    (query(("memory_mb", "eq", "integer", "big")),
     "Unable to convert the value big to the expected data type integer."),
    (query(("memory_mb", "eq", "integer", str(2**70))), "expected data type integer"),
    (query(("memory_mb", "eq", "integer", MONGO_OPERATOR)), "expected data type integer"),
    (query(("memory_mb", "eq", "integer", SQL_INJECTION)), "expected data type integer"),
    (query(("ratio", "eq", "float", "nan")), "expected data type float"),
    (query(("ratio", "eq", "float", "1e400")), "expected data type float"),
    (query(("launched_at", "eq", "datetime", "yesterday")), "expected data type datetime"),
    (query(("launched_at", "eq", "datetime", "9999-12-31T23:59:59-01:00")),
     "expected data type datetime"),
    (query(("memory_mb", "like", "integer", "1")),
     "Operator like is not supported. The supported operators are:"),
    (query(("memory_mb", "eq", "blob", "1")), "The data type blob is not supported"),
    (query(("event_type", "ne", "string", "x")), "Only `eq' operator is available"),
    (query(("start_timestamp", "gt", "string", "2026-01-01")), "Only `ge' or `eq'"),
    (query(("end_timestamp", "lt", "string", "2026-01-01")), "Only `le' or `eq'"),
    (query(("start_timestamp", "ge", "string", "not a date")), "expected data type datetime"),
    (query(("flavor", "eq", "string", "nul\x00byte")), "must not contain NUL"),
    (query(("fla\x00vor", "eq", "string", "x")), "must not contain NUL"),
    ({"q.field": ["flavor", "memory_mb"], "q.value": ["x"]}, "every q.field needs one q.value"),
    ({"q.field": ["flavor"], "q.op": ["eq", "eq"], "q.value": ["x"]}, "they go in pairs"),
    ({"limit": 0}, "the limit should be a positive integer"),
    ({"limit": -5}, "the limit should be a positive integer"),
    ({"limit": 10**30}, "the limit may not exceed 10000"),
    ({"limit": "ten"}, "limit"),
    ({"limit": MONGO_OPERATOR}, "limit"),
    ({"sort": "traits:asc"}, "the supported sort keys are"),
    ({"sort": "generated:sideways"}, "the supported sort directions are"),
    ({"marker": "no-such-event"}, "names no stored event"),
    ({"marker": MONGO_OPERATOR}, "names no stored event"),
]


@pytest.mark.parametrize(("params", "message"), BAD_EVENT_QUERIES)
def test_bad_event_query_is_a_400_with_a_message(
    client_for: ClientFactory, params: dict[str, Any], message: str
) -> None:
    response = client_for().get("/v2/events", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error_message"]
    assert error["faultcode"] == "Client"
    assert message in error["faultstring"]


@pytest.mark.parametrize("value", [MONGO_OPERATOR, SQL_INJECTION, "%", "*", "\\", "' --"])
def test_injection_strings_are_literal_string_values(
    client_for: ClientFactory, value: str
) -> None:
    """Taken as plain text they match nothing, and the data is still all there."""
    client = client_for()
    for field in ("flavor", "event_type", "message_id"):
        response = client.get("/v2/events", params=query((field, "eq", "string", value)))
        assert response.status_code == 200, response.text
        assert response.json() == []
    assert client.get(f"/v2/events/{value}").status_code in (404,)
    assert len(client.get("/v2/events").json()) == 5


@pytest.mark.parametrize("path", [
    "/v2/events/a%00b",
    "/v2/event_types/a%00b/traits",
    "/v2/event_types/x/traits/a%00b",
])
def test_nul_in_a_path_is_a_400(client_for: ClientFactory, path: str) -> None:
    response = client_for().get(path)
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["error_message"]["faultstring"]


def test_unknown_path_is_a_404_in_the_error_shape(client_for: ClientFactory) -> None:
    response = client_for().get("/v2/nothing")
    assert response.status_code == 404
    assert response.json()["error_message"]["faultstring"] == "Not Found"
