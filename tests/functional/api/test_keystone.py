"""auth_strategy = keystone against a real Keystone: tokens, roles, policy, spoofing.

Every request carries a real token from the session's Keystone (see
tests/keystone_server.py), validated by auth_token inside the app. The
events of conftest.make_events carry the Keystone ids of p1, p2, u1, u2 and
u3, so the Panko scoping rules are checked with the identities Keystone
gives, on every API driver.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api import create_app
from pipeline.storage import Connection
from tests import servers
from tests.functional.api.conftest import API_DRIVERS, make_events, seeded, skip_without_tickets
from tests.keystone_server import KeystoneWorld

SPOOFED = {"X-User-Id": "u1", "X-Project-Id": "p2", "X-Roles": "admin",
           "X-Identity-Status": "Confirmed"}
EVERY_ENDPOINT = [
    ("get", "/v2/events"), ("get", "/v2/events/e1"), ("get", "/v2/event_types"),
    ("get", "/v2/event_types/image.upload/traits"), ("get", "/v2/capabilities"),
    ("get", "/v1/tickets"), ("get", "/v1/tickets/1"), ("get", "/v1/tickets/1/occurrences"),
    ("post", "/v1/tickets/1/solve"), ("delete", "/v1/tickets/1"),
]


@pytest.fixture(scope="module", params=API_DRIVERS)
def ks_conn(request: pytest.FixtureRequest, keystone_world: KeystoneWorld,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """A database per driver whose events belong to the Keystone world's people."""
    with seeded(request.param, str(tmp_path_factory.mktemp("ks")), request,
                make_events(keystone_world.ids)) as conn:
        yield conn


@pytest.fixture(scope="module")
def client(ks_conn: Connection, keystone_world: KeystoneWorld,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The API with auth_strategy = keystone over the module's data."""
    conf = keystone_world.conf(tmp_path_factory.mktemp("conf"))
    with TestClient(create_app(conf, ks_conn)) as test_client:
        yield test_client


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [event["message_id"] for event in response.json()]


def all_tenants(**extra: str) -> dict[str, Any]:
    return {"q.field": ["all_tenants", *extra], "q.value": ["true", *extra.values()]}


@pytest.mark.parametrize(("method", "path"), EVERY_ENDPOINT)
@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "not-a-token"}, SPOOFED,
                                     {**SPOOFED, "X-Auth-Token": "gAAAAAB-forged"}],
                         ids=["no-token", "bad-token", "spoofed", "spoofed-bad-token"])
def test_without_a_valid_token_nothing_is_answered(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = client.request(method, path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Keystone uri="http://127.0.0.1')
    assert set(response.json()) == {"error_message"}
    assert "e1" not in response.text and "nova" not in response.text


def test_the_page_without_a_token_sends_to_sign_in(client: TestClient) -> None:
    response = client.get("/tickets", params={"app": "nova"}, headers=SPOOFED,
                          follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftickets%3Fapp%3Dnova"


def test_a_member_sees_only_events_of_their_user_and_project(
    client: TestClient, keystone_world: KeystoneWorld
) -> None:
    member = keystone_world.auth("u1")
    assert ids(client.get("/v2/events", headers=member)) == ["e1"]
    assert client.get("/v2/events/e1", headers=member).status_code == 200
    # e5 is u1's but in p2; asking for it by id or by trait does not widen the scope
    assert client.get("/v2/events/e5", headers=member).status_code == 404
    widened = all_tenants(project_id=keystone_world.ids["p2"])
    assert ids(client.get("/v2/events", params=widened, headers=member)) == []
    assert ids(client.get("/v2/events", params=all_tenants(), headers=member)) == ["e1"]


def test_identity_headers_beside_a_valid_token_are_ignored(
    client: TestClient, keystone_world: KeystoneWorld
) -> None:
    spoofed = {**SPOOFED, "X-Project-Id": keystone_world.ids["p2"],
               "X-User-Id": keystone_world.ids["u3"], "X-Roles": "admin,member"}
    member = {**spoofed, **keystone_world.auth("u1")}
    assert ids(client.get("/v2/events", params=all_tenants(), headers=member)) == ["e1"]
    assert client.get("/v2/event_types", headers=member).status_code == 403


@pytest.mark.parametrize("path", ["/v2/event_types", "/v2/event_types/image.upload/traits",
                                  "/v2/event_types/image.upload/traits/flavor"])
@pytest.mark.parametrize("person", ["reader", "u1"])
def test_readers_and_members_are_refused_admin_endpoints(
    client: TestClient, keystone_world: KeystoneWorld, path: str, person: str
) -> None:
    response = client.get(path, headers=keystone_world.auth(person))
    assert response.status_code == 403
    assert f"Not Authorized to access project {keystone_world.ids['p1']}" in response.text


def test_a_reader_reads_their_own_events_only(
    client: TestClient, keystone_world: KeystoneWorld
) -> None:
    assert ids(client.get("/v2/events", headers=keystone_world.auth("reader"))) == []


def test_an_admin_sees_their_project_and_projectless_events_or_all_tenants(
    client: TestClient, keystone_world: KeystoneWorld
) -> None:
    admin = keystone_world.auth("admin-user")
    assert ids(client.get("/v2/events", headers=admin)) == ["e1", "e2", "e4"]
    assert client.get("/v2/events/e3", headers=admin).status_code == 404
    assert ids(client.get("/v2/events", params=all_tenants(), headers=admin)) == [
        "e1", "e2", "e3", "e4", "e5"]
    assert client.get("/v2/event_types", headers=admin).status_code == 200
    assert client.get("/v2/capabilities", headers=admin).status_code == 200


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/v1/tickets"), ("get", "/v1/tickets/1"), ("get", "/v1/tickets/1/occurrences"),
    ("post", "/v1/tickets/1/solve"), ("delete", "/v1/tickets/1"), ("get", "/tickets"),
])
def test_tickets_are_for_admins(client: TestClient, ks_conn: Connection,
                                keystone_world: KeystoneWorld, method: str, path: str) -> None:
    skip_without_tickets(ks_conn)
    refused = client.request(method, path, headers=keystone_world.auth("u1"))
    assert refused.status_code == 403
    assert "Not Authorized" in refused.text
    listed = client.get("/v1/tickets", headers=keystone_world.auth("admin-user"))
    assert [t["app_id"] for t in listed.json()["tickets"]] == ["nova", "web", "glance"]


def test_the_page_takes_an_admin_token(client: TestClient, ks_conn: Connection,
                                       keystone_world: KeystoneWorld) -> None:
    skip_without_tickets(ks_conn)
    response = client.get("/tickets", headers=keystone_world.auth("admin-user"))
    assert response.status_code == 200
    assert response.text.count('class="ticket"') == 3


@pytest.fixture
def ks_memory(keystone_world: KeystoneWorld, tmp_path: Path,
              request: pytest.FixtureRequest) -> Iterator[Connection]:
    """The Keystone world's events in memory, for tests about tokens rather than storage."""
    with seeded("memory", str(tmp_path), request, make_events(keystone_world.ids)) as conn:
        yield conn


def test_a_revoked_token_stops_working_once_the_cache_time_has_passed(
    ks_memory: Connection, keystone_world: KeystoneWorld, tmp_path: Path
) -> None:
    cache_time = 2
    conf = keystone_world.conf(tmp_path, cache_time=cache_time)
    token = {"X-Auth-Token": keystone_world.new_token("u1")}
    with TestClient(create_app(conf, ks_memory)) as short_cache:
        assert ids(short_cache.get("/v2/events", headers=token)) == ["e1"]
        keystone_world.keystone.revoke(token["X-Auth-Token"])
        assert not keystone_world.keystone.is_valid(token["X-Auth-Token"])
        time.sleep(cache_time + 1)
        assert short_cache.get("/v2/events", headers=token).status_code == 401


def test_keystone_unreachable_is_503_never_access(
    ks_memory: Connection, keystone_world: KeystoneWorld, tmp_path: Path
) -> None:
    conf = keystone_world.conf(tmp_path, url=f"http://127.0.0.1:{servers.free_port()}")
    with TestClient(create_app(conf, ks_memory)) as cut_off:
        response = cut_off.get("/v2/events", headers={"X-Auth-Token": "gAAAAAB-whatever"})
    assert response.status_code == 503
    assert "e1" not in response.text
