"""/v1/tickets: filters, order, paging, occurrences, solve, delete, access."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pipeline.models import UTC, TicketRecord
from pipeline.storage import Connection
from tests.functional.api.conftest import serve


@pytest.fixture
def client(ticket_conn: Connection) -> Iterator[TestClient]:
    with serve(ticket_conn) as test_client:
        yield test_client


def apps(response: object) -> list[str]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    return [t["app_id"] for t in response.json()["tickets"]]  # type: ignore[attr-defined]


def ticket_id(client: TestClient, app: str) -> int:
    return int(client.get("/v1/tickets", params={"app": app}).json()["tickets"][0]["ticket_id"])


def test_list_is_newest_first_with_counts_and_level_names(client: TestClient) -> None:
    body = client.get("/v1/tickets").json()
    assert [t["app_id"] for t in body["tickets"]] == ["nova", "web", "glance"]
    assert body["total"] == 3 and body["limit"] == 50 and body["offset"] == 0
    nova = body["tickets"][0]
    assert nova["occurrence_count"] == 3
    assert (nova["level"], nova["level_name"]) == (14, "ERROR")
    assert nova["status"] == "open" and nova["solved"] is False
    assert nova["channel"] == "nova.compute"


@pytest.mark.parametrize(("params", "expected"), [
    ({"app": "glance"}, ["glance"]),
    ({"level": "error"}, ["nova", "web"]),
    ({"level": "CRITICAL"}, ["web"]),
    ({"level": "13"}, ["nova", "web", "glance"]),
    ({"channel": "web.app"}, ["web"]),
    ({"status": "open"}, ["nova", "web", "glance"]),
    ({"status": "solved"}, []),
    ({"status": "all"}, ["nova", "web", "glance"]),
    ({"order_by": "-occurrence_count"}, ["nova", "glance", "web"]),
    ({"order_by": "level"}, ["glance", "nova", "web"]),
    ({"order_by": "first_occurrence_time"}, ["nova", "glance", "web"]),
    ({"limit": 1, "offset": 1}, ["web"]),
])
def test_filters_order_and_paging(
    client: TestClient, params: dict[str, object], expected: list[str]
) -> None:
    assert apps(client.get("/v1/tickets", params=params)) == expected


def test_total_counts_every_match_not_the_page(client: TestClient) -> None:
    body = client.get("/v1/tickets", params={"limit": 1, "level": "error"}).json()
    assert len(body["tickets"]) == 1 and body["total"] == 2


def test_one_ticket_and_its_occurrences_newest_first(client: TestClient) -> None:
    nova = ticket_id(client, "nova")
    assert client.get(f"/v1/tickets/{nova}").json()["app_id"] == "nova"
    body = client.get(f"/v1/tickets/{nova}/occurrences").json()
    messages = [o["data"]["message"] for o in body["occurrences"]]
    assert messages[0] == "Instance failed to spawn again" and len(messages) == 3
    times = [o["time"] for o in body["occurrences"]]
    assert times == sorted(times, reverse=True)
    oldest = client.get(f"/v1/tickets/{nova}/occurrences", params={"order_by": "time",
                                                                   "limit": 1}).json()
    assert oldest["occurrences"][0]["time"] == times[-1]


def test_solve_then_fire_again_regresses(client: TestClient, ticket_conn: Connection) -> None:
    glance = ticket_id(client, "glance")
    solved = client.post(f"/v1/tickets/{glance}/solve")
    assert solved.status_code == 200
    assert solved.json()["status"] == "solved" and solved.json()["solved"] is True
    assert apps(client.get("/v1/tickets", params={"status": "solved"})) == ["glance"]
    ticket_conn.record_tickets([TicketRecord(  # type: ignore[attr-defined]
        "b" * 40, "glance", dt.datetime.now(UTC), 13, "glance.store", "glance.store/x.py:13",
        "glance.store", {"message": "Slow backend again"})])
    assert client.get(f"/v1/tickets/{glance}").json()["status"] == "regressed"
    assert apps(client.get("/v1/tickets", params={"status": "regressed"})) == ["glance"]


def test_delete_removes_the_ticket(client: TestClient) -> None:
    web = ticket_id(client, "web")
    response = client.delete(f"/v1/tickets/{web}")
    assert response.status_code == 204 and response.content == b""
    assert client.get(f"/v1/tickets/{web}").status_code == 404
    assert client.get(f"/v1/tickets/{web}/occurrences").status_code == 404
    assert apps(client.get("/v1/tickets")) == ["nova", "glance"]


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/v1/tickets/999999"), ("get", "/v1/tickets/999999/occurrences"),
    ("post", "/v1/tickets/999999/solve"), ("delete", "/v1/tickets/999999"),
])
def test_unknown_ticket_is_a_404(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.json()["error_message"]["faultcode"] == "Client"


@pytest.mark.parametrize(("path", "params", "message"), [
    ("/v1/tickets", {"status": "closed"}, "status must be one of"),
    ("/v1/tickets", {"level": "loud"}, "unknown level"),
    ("/v1/tickets", {"level": "99999999999999999999"}, "out of range"),
    ("/v1/tickets", {"order_by": "password"}, "cannot order tickets by"),
    ("/v1/tickets", {"order_by": "-level; DROP TABLE ticket"}, "cannot order tickets by"),
    ("/v1/tickets", {"limit": 0}, "limit must be between 1 and"),
    ("/v1/tickets", {"limit": 10**9}, "limit must be between 1 and"),
    ("/v1/tickets", {"offset": -1}, "offset"),
    ("/v1/tickets", {"offset": 10**30}, "offset"),
    ("/v1/tickets", {"app": "a\x00b"}, "NUL"),
    ("/v1/tickets", {"app": '{"$gt": ""}', "limit": "x"}, "limit"),
    ("/v1/tickets/abc", {}, "ticket_id"),
    ("/v1/tickets/0", {}, "ticket_id"),
    (f"/v1/tickets/{2**64}", {}, "ticket_id"),
    ("/v1/tickets/1/occurrences", {"order_by": "-data"}, "ordered by time or -time"),
])
def test_bad_ticket_requests_are_a_400(
    client: TestClient, path: str, params: dict[str, object], message: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert message in response.json()["error_message"]["faultstring"]


def test_injection_strings_are_literal_filters(client: TestClient) -> None:
    for value in ('{"$gt": ""}', "x' OR '1'='1"):
        assert apps(client.get("/v1/tickets", params={"app": value})) == []
        assert apps(client.get("/v1/tickets", params={"channel": value})) == []
    assert len(apps(client.get("/v1/tickets"))) == 3


# Access rules with real tokens: tests/functional/api/test_keystone.py
