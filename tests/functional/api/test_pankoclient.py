"""Panko's own client, pankoclient 1.2.0, through Keystone's catalog to pipeline.

The API runs under uvicorn with auth_strategy = keystone; pipeline is
registered in the session's Keystone as the ``event`` service, as Panko
was, and pankoclient finds it there with a keystoneauth1 password session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from pankoclient import exceptions as panko_exceptions
from pankoclient.v2 import client as panko_client

from pipeline import storage
from pipeline.api import create_app
from tests.functional.api.conftest import make_events, served
from tests.keystone_server import PEOPLE, KeystoneWorld


@pytest.fixture(scope="module")
def event_service(keystone_world: KeystoneWorld,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pipeline served and registered as the catalog's ``event`` service."""
    conn = storage.get_connection("memory://")
    conn.record_events(make_events(keystone_world.ids))
    conf = keystone_world.conf(tmp_path_factory.mktemp("panko"))
    keystone = keystone_world.keystone
    with served(create_app(conf, conn)) as base:
        service = keystone.api("POST", "/services", json={"service": {
            "type": "event", "name": keystone_world.name("pipeline")}})["service"]["id"]
        endpoint = keystone.api("POST", "/endpoints", json={"endpoint": {
            "service_id": service, "interface": "public", "url": base,
            "region_id": "RegionOne"}})["endpoint"]["id"]
        try:
            yield base
        finally:
            keystone.api("DELETE", f"/endpoints/{endpoint}")
            keystone.api("DELETE", f"/services/{service}")


def panko(world: KeystoneWorld, person: str) -> Any:
    """A pankoclient of ``person`` with a keystoneauth1 password session."""
    auth = v3.Password(auth_url=f"{world.keystone.url}/v3", username=world.name(person),
                       password=world.password(person), user_domain_id="default",
                       project_name=world.name(PEOPLE[person][0]), project_domain_id="default")
    return panko_client.Client(session=ks_session.Session(auth=auth))


def message_ids(events: list[Any]) -> list[str]:
    return [event.message_id for event in events]


def test_a_member_lists_and_reads_their_events(event_service: str,
                                               keystone_world: KeystoneWorld) -> None:
    member = panko(keystone_world, "u1")
    assert message_ids(member.event.list()) == ["e1"]
    event = member.event.get("e1")
    assert event.event_type == "compute.instance.create.end"
    traits = {trait["name"]: trait["value"] for trait in event.traits}
    assert traits["project_id"] == keystone_world.ids["p1"] and traits["memory_mb"] == "2048"
    with pytest.raises(panko_exceptions.NotFound):
        member.event.get("e5")
    with pytest.raises(panko_exceptions.Forbidden):
        member.event_type.list()


def test_an_admin_filters_sorts_and_pages(event_service: str,
                                          keystone_world: KeystoneWorld) -> None:
    admin = panko(keystone_world, "admin-user")
    assert message_ids(admin.event.list()) == ["e1", "e2", "e4"]
    created = admin.event.list(filters={"event_type": "compute.instance.create.end"})
    assert message_ids(created) == ["e1", "e2"]
    assert message_ids(admin.event.list(filters={"all_tenants": "true"}, limit=2,
                                        sorts=["generated:desc"])) == ["e5", "e4"]
    assert message_ids(admin.event.list(filters={"all_tenants": "true"}, marker="e2",
                                        sorts=["generated:asc"])) == ["e3", "e4", "e5"]
    assert sorted(admin.event_type.list()) == [
        "compute.instance.create.end", "compute.instance.delete.end", "identity.authenticate",
        "image.upload"]
    described = admin.event_trait_description.list("compute.instance.create.end")
    assert {(t.name, t.type) for t in described} >= {("memory_mb", "integer"),
                                                    ("launched_at", "datetime")}
    values = admin.event_trait.list("compute.instance.create.end", "memory_mb")
    assert sorted(t.value for t in values) == ["2048", "4096"]
