"""The definitions we ship: every one exercised with realistic notifications.

Samples come from benchmarks/corpus.py, which follows what each service
publishes; each test checks the typed traits operators rely on.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import pathlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import corpus
from pipeline.convert import EventConverter, decode_notification
from pipeline.convert.events import PACKAGED_DEFINITIONS
from pipeline.exceptions import ConversionError, DecodeError
from pipeline.models import UTC, Event, Trait
from tests.unit.convert import samples

ROOT = pathlib.Path(__file__).resolve().parents[3]
CONVERTER = EventConverter.from_file()


def event_for(event_type: str, seed: int = 7, **payload_changes: Any) -> Event:
    notification = corpus.notification(event_type, seed)
    notification["payload"].update(payload_changes)
    event = CONVERTER.to_event(decode_notification(json.dumps(notification)))
    assert event is not None
    return event


def typed(event: Event) -> dict[str, tuple[int, Any]]:
    return {trait.name: (trait.dtype, trait.value) for trait in event.traits}


def test_operator_copy_equals_the_packaged_definitions() -> None:
    packaged = ROOT / "pipeline" / PACKAGED_DEFINITIONS
    operator_copy = ROOT / "etc/pipeline/event_definitions.yaml"
    assert operator_copy.read_text() == packaged.read_text(), \
        "copy pipeline/data/event_definitions.yaml to etc/pipeline/"


def test_every_shipped_definition_matches_some_corpus_event_type() -> None:
    """No dead definition: each one is the winning match of a generated type."""
    event_types = {*corpus.EVENT_TYPES, *samples.EVENT_TYPES}
    used = {id(CONVERTER.definition_for(event_type)) for event_type in event_types}
    unused = [d.patterns for d in CONVERTER._definitions if id(d) not in used]
    assert unused == []


@pytest.mark.parametrize("event_type", corpus.EVENT_TYPES)
def test_every_corpus_event_type_gets_its_service_traits(event_type: str) -> None:
    event = event_for(event_type)
    traits = typed(event)
    assert CONVERTER.definition_for(event_type) is not None
    for name in ("service", "request_id", "project_id", "tenant_id", "user_id", "resource_id"):
        assert name in traits, name
    assert traits["project_id"] == traits["tenant_id"]
    assert len(traits) >= 8


def test_nova_instance_traits() -> None:
    event = event_for("compute.instance.create.end", memory_mb=2048, vcpus=2, disk_gb=20,
                      root_gb=20, instance_type="m1.small", launched_at="2026-11-23T09:10:11.000000",
                      state="active", host="node-03", deleted_at="")
    traits = typed(event)
    assert traits["memory_mb"] == (Trait.INT_TYPE, 2048)
    assert traits["vcpus"] == (Trait.INT_TYPE, 2)
    assert traits["disk_gb"] == (Trait.INT_TYPE, 20)
    assert traits["root_gb"] == (Trait.INT_TYPE, 20)
    assert traits["instance_type"] == (Trait.TEXT_TYPE, "m1.small")
    assert traits["state"] == (Trait.TEXT_TYPE, "active")
    assert traits["launched_at"] == (Trait.DATETIME_TYPE, dt.datetime(2026, 11, 23, 9, 10, 11,
                                                                      tzinfo=UTC))
    assert "deleted_at" not in traits  # nova's "" for unset dates
    assert traits["service"] == (Trait.TEXT_TYPE, "compute")
    assert traits["host"][1].startswith("node-")
    assert traits["instance_id"] == traits["resource_id"]
    assert traits["os_architecture"] == (Trait.TEXT_TYPE, "x86_64")
    assert traits["fixed_ip"][1].startswith("10.1.")


def test_nova_specific_definitions() -> None:
    assert typed(event_for("compute.instance.update"))["old_state"] == (Trait.TEXT_TYPE, "building")
    resize = typed(event_for("compute.instance.resize.prep.start"))
    assert resize["new_instance_type"][1].startswith("m1.")
    # Text, as Ceilometer's instance_type_id (nova sends an integer).
    assert resize["new_instance_type_id"][0] == Trait.TEXT_TYPE
    assert resize["instance_type_id"][0] == Trait.TEXT_TYPE
    assert resize["instance_type_id"][1].isdigit()
    exists = typed(event_for("compute.instance.exists"))
    assert exists["audit_period_seconds"] == (Trait.INT_TYPE, 3600)
    deleted = typed(event_for("compute.instance.delete.end"))
    assert deleted["state"] == (Trait.TEXT_TYPE, "deleted")
    assert deleted["deleted_at"][0] == Trait.DATETIME_TYPE


def test_glance_image_traits() -> None:
    upload = typed(event_for("image.upload", size=1234, visibility="public"))
    assert upload["size"] == (Trait.INT_TYPE, 1234)
    assert upload["is_public"] == (Trait.INT_TYPE, 1)
    assert upload["status"] == (Trait.TEXT_TYPE, "saving")
    assert upload["image_id"] == upload["resource_id"]
    assert typed(event_for("image.update", visibility="private"))["is_public"] == (
        Trait.INT_TYPE, 0)
    deleted = typed(event_for("image.delete"))
    assert deleted["deleted_at"][0] == Trait.DATETIME_TYPE
    sent = typed(event_for("image.send", bytes_sent=99))
    assert sent["bytes_sent"] == (Trait.INT_TYPE, 99)
    assert "size" not in sent


def test_cinder_volume_and_snapshot_traits() -> None:
    attach = typed(event_for("volume.attach.end", size=10))
    assert attach["size"] == (Trait.INT_TYPE, 10)
    assert attach["status"] == (Trait.TEXT_TYPE, "in-use")
    assert attach["mountpoint"] == (Trait.TEXT_TYPE, "/dev/vdb")
    assert "instance_id" in attach and "image_id" in attach  # list index, JSONPath filter
    assert attach["volume_id"] == attach["resource_id"]
    created = typed(event_for("volume.create.end"))
    assert "instance_id" not in created
    snap = typed(event_for("snapshot.create.end", volume_size=50))
    assert snap["volume_size"] == (Trait.INT_TYPE, 50)
    assert snap["snapshot_id"] == snap["resource_id"]
    assert "size" not in snap


@pytest.mark.parametrize("kind", ["network", "subnet", "port", "router", "floatingip"])
def test_neutron_traits_for_create_update_and_delete(kind: str) -> None:
    created = typed(event_for(f"{kind}.create.end"))
    deleted = typed(event_for(f"{kind}.delete.end"))
    assert created["resource_id"][1] and deleted["resource_id"][1]
    assert created["project_id"][1] == created["tenant_id"][1]


def test_neutron_specific_traits() -> None:
    port = typed(event_for("port.create.end"))
    assert port["ip_address"][1].startswith("10.0.0.")
    assert port["host"][1].startswith("node-")
    assert port["admin_state_up"] == (Trait.INT_TYPE, 1)
    assert typed(event_for("network.create.end"))["mtu"] == (Trait.INT_TYPE, 1450)
    assert typed(event_for("floatingip.update.end"))["floating_ip_address"][1].startswith("203.")
    assert typed(event_for("subnet.create.end"))["ip_version"] == (Trait.INT_TYPE, 4)
    assert "external_network_id" in typed(event_for("router.create.end"))


def test_keystone_traits() -> None:
    ok = typed(event_for("identity.authenticate", outcome="success"))
    assert ok["authenticated"] == (Trait.INT_TYPE, 1)
    assert ok["action"] == (Trait.TEXT_TYPE, "authenticate")
    failed = typed(event_for("identity.authenticate", outcome="FAILURE"))
    assert failed["authenticated"] == (Trait.INT_TYPE, 0)
    project = typed(event_for("identity.project.created"))
    assert project["action"] == (Trait.TEXT_TYPE, "created.project")
    assert project["resource_id"] == project["target_id"]
    assert "authenticated" not in project
    assert typed(event_for("identity.user.deleted"))["target_typeURI"] == (
        Trait.TEXT_TYPE, "data/security/user")
    assert ok["eventTime"][0] == Trait.DATETIME_TYPE
    assert ok["observer_typeURI"] == (Trait.TEXT_TYPE, "service/security")


def test_heat_stack_traits() -> None:
    event = typed(event_for("orchestration.stack.update.end"))
    assert event["state"] == (Trait.TEXT_TYPE, "UPDATE_COMPLETE")
    assert event["resource_id"] == event["stack_identity"]  # the ARN, as in Ceilometer
    assert event["resource_id"][1].startswith("arn:openstack:heat::")
    assert event["stack_identity"][1].endswith("/" + event["stack_id"][1])
    assert event["name"] == event["stack_name"]
    assert event["created_at"][0] == Trait.DATETIME_TYPE


def test_v2_and_v1_bodies_give_the_same_events() -> None:
    v1 = [CONVERTER.to_event(decode_notification(b)) for b in corpus.bodies(60, 3, v2_share=0)]
    v2 = [CONVERTER.to_event(decode_notification(b)) for b in corpus.bodies(60, 3, v2_share=1)]
    assert v1 == v2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)
payload_keys = st.sampled_from(sorted({
    key for event_type in corpus.EVENT_TYPES for key in corpus.notification(event_type)["payload"]
}))


@settings(max_examples=200, deadline=None)
@given(
    event_type=st.sampled_from(corpus.EVENT_TYPES) | st.text(max_size=20),
    payload=st.dictionaries(payload_keys, json_values, max_size=8) | json_values,
    extra=st.dictionaries(st.sampled_from(["publisher_id", "_context_tenant", "priority",
                                           "_context_request_id", "timestamp"]), json_values),
)
def test_arbitrary_payloads_give_an_event_or_a_documented_error(
    event_type: str, payload: Any, extra: dict[str, Any]
) -> None:
    body = {"message_id": "m", "event_type": event_type, "timestamp": "2026-11-23 10:00:00",
            "payload": payload, **extra}
    try:
        event = CONVERTER.to_event(decode_notification(json.dumps(body)))
    except (DecodeError, ConversionError):
        return
    assert isinstance(event, Event)
    for trait in event.traits:  # every value already has its trait's type
        if not (isinstance(trait.value, float) and math.isnan(trait.value)):
            assert Trait.convert_value(trait.dtype, trait.value) == trait.value
