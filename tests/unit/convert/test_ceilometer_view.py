"""Field paths see the notification in Ceilometer's shape: ctxt.* and metadata.*."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.convert import EventConverter, decode_notification
from pipeline.convert.ceilometer_view import ceilometer_view, names_an_alias
from pipeline.convert.paths import FieldPath, _jsonpath_matcher
from pipeline.models import Trait
from tests.unit.convert.conftest import WHEN, make_notification

V1: dict[str, Any] = {
    "message_id": "m-7", "publisher_id": "network.node-01", "event_type": "port.create.end",
    "priority": "INFO", "timestamp": "2026-11-23 10:00:00.000000", "_unique_id": "u",
    "payload": {"port": {"id": "p-1", "tenant_id": "owner"}},
    "_context_user_id": "ctx-user", "_context_tenant_id": "ctx-tenant",
    "_context_roles": ["admin", "member"], "_context_request_id": "req-7",
}
V2 = {"oslo.version": "2.0", "oslo.message": json.dumps(V1)}


def traits_of(definitions: list[Any], body: Any) -> dict[str, tuple[int, Any]]:
    event = EventConverter(definitions).to_event(decode_notification(body))
    assert event is not None
    return {trait.name: (trait.dtype, trait.value) for trait in event.traits}


@pytest.mark.parametrize("body", [V1, V2], ids=["v1", "v2"])
def test_ctxt_and_metadata_paths_read_the_flattened_context_and_the_message(body: Any) -> None:
    definitions = [{"event_type": "port.*", "traits": {
        "user_id": {"fields": "ctxt.user_id"},
        "project_id": {"fields": "ctxt.tenant_id"},
        "first_role": {"fields": "ctxt.roles[0]"},
        "msg": {"fields": "metadata.message_id"},
        "sent_at": {"type": "datetime", "fields": "metadata.timestamp"},
        "owner": {"fields": "payload.port.tenant_id"},
        "legacy": {"fields": "_context_user_id"},
    }}]
    traits = traits_of(definitions, json.dumps(body))
    assert traits["user_id"] == (Trait.TEXT_TYPE, "ctx-user")
    assert traits["project_id"] == (Trait.TEXT_TYPE, "ctx-tenant")
    assert traits["first_role"] == (Trait.TEXT_TYPE, "admin")
    assert traits["msg"] == (Trait.TEXT_TYPE, "m-7")
    assert traits["sent_at"] == (Trait.DATETIME_TYPE, WHEN)
    assert traits["owner"] == (Trait.TEXT_TYPE, "owner")
    assert traits["legacy"] == (Trait.TEXT_TYPE, "ctx-user")
    assert traits["request_id"] == (Trait.TEXT_TYPE, "req-7")  # a default trait


def test_jsonpath_expressions_naming_ctxt_or_metadata_see_the_view() -> None:
    definitions = [{"event_type": "*", "traits": {
        "roles": {"fields": "ctxt.roles[*]"},
        "admin": {"fields": "ctxt.roles[?@ = 'admin']"},
        "meta": {"fields": "metadata.*"},
    }}]
    traits = traits_of(definitions, V1)
    assert traits["roles"] == (Trait.TEXT_TYPE, "admin")
    assert traits["admin"] == (Trait.TEXT_TYPE, "admin")
    assert traits["meta"] == (Trait.TEXT_TYPE, "m-7")


def test_a_plugin_sees_the_match_under_the_path_as_written() -> None:
    definitions = [{"event_type": "*", "traits": {"flags": {
        "type": "int", "fields": ["ctxt.user_id", "ctxt.missing", "metadata.message_id"],
        "plugin": {"name": "bitfield", "parameters": {"flags": [
            {"path": "ctxt.user_id", "bit": 0}, {"path": "ctxt.missing", "bit": 1},
            {"path": "metadata.message_id", "bit": 2, "value": "m-7"}]}}}}}]
    assert traits_of(definitions, V1)["flags"] == (Trait.INT_TYPE, 0b101)


def test_a_flattened_key_wins_over_a_ctxt_dict_the_publisher_sent() -> None:
    notification = make_notification(x=1)
    notification["ctxt"] = {"user_id": "sent-user", "domain": "sent-domain"}
    definitions = [{"event_type": "*", "traits": {
        "user": {"fields": "ctxt.user_id"}, "domain": {"fields": "ctxt.domain"}}}]
    event = EventConverter(definitions).to_event(notification)
    assert event is not None
    assert event.trait("user").value == "ctx-user"  # type: ignore[union-attr]
    assert event.trait("domain").value == "sent-domain"  # type: ignore[union-attr]


def test_without_a_context_ctxt_paths_give_no_trait() -> None:
    notification = make_notification(x=1)
    for key in [k for k in notification if k.startswith("_context_")]:
        del notification[key]
    definitions = [{"event_type": "*", "traits": {
        "user": {"fields": "ctxt.user_id"}, "whole": {"fields": "ctxt"},
        "other": {"fields": "metadata.other"}}}]
    event = EventConverter(definitions).to_event(notification)
    assert event is not None
    assert {t.name for t in event.traits} == {"service"}


def test_conversion_leaves_the_notification_as_it_was() -> None:
    notification = decode_notification(V1)
    before = copy.deepcopy(notification)
    definitions = [{"event_type": "*", "traits": {
        "roles": {"fields": "ctxt.roles[*]"}, "user": {"fields": "ctxt.user_id"},
        "whole": {"fields": "ctxt"}, "meta": {"fields": "metadata"}}}]
    event = EventConverter(definitions).to_event(notification)
    assert event is not None and event.trait("roles") is not None
    assert notification == before
    assert "ctxt" not in notification and "metadata" not in notification


@pytest.mark.parametrize(("text", "expected"), [
    ("ctxt.user_id", True), ("$.ctxt[*]", True), ("metadata.*", True),
    ("payload.glance_metadata[?key='image_id'].value", False), ("payload.ctxt_id", False),
    ("payload.metadata-x", False),
])
def test_only_expressions_naming_ctxt_or_metadata_build_the_view(
    text: str, expected: bool
) -> None:
    assert names_an_alias(text) is expected


documents = st.fixed_dictionaries(
    {"message_id": st.text(max_size=3), "timestamp": st.text(max_size=3)},
    optional={
        "_context_a": st.none() | st.integers() | st.lists(st.integers(), max_size=2)
        | st.dictionaries(st.sampled_from(["b", "c"]), st.integers(), max_size=2),
        "_context_b": st.text(max_size=3),
        "ctxt": st.none() | st.integers() | st.lists(st.integers(), max_size=2)
        | st.dictionaries(st.sampled_from(["a", "c"]), st.integers() | st.none(), max_size=2),
        "metadata": st.none() | st.lists(st.integers(), max_size=2)
        | st.dictionaries(st.sampled_from(["message_id", "x"]), st.integers(), max_size=2),
    },
)


@pytest.mark.parametrize("text", [
    "ctxt", "ctxt.a", "ctxt.b", "ctxt.c", "ctxt.a.b", "ctxt.a[1]", "ctxt[0]", "$.ctxt.a",
    "metadata[0]",
    "metadata", "metadata.message_id", "metadata.timestamp", "metadata.x",
])
@settings(max_examples=60, deadline=None)
@given(document=documents)
def test_fast_lookups_agree_with_jsonpath_on_the_ceilometer_view(
    text: str, document: dict[str, Any]
) -> None:
    plain = FieldPath(text)
    assert plain.plain
    first_match = _jsonpath_matcher(text)(document)[:1]
    assert plain.matches(document) == first_match
    assert plain.first(document) == (first_match[0][1] if first_match else None)


def test_the_view_adds_ctxt_and_metadata_and_keeps_every_key() -> None:
    notification = decode_notification(V1)
    view = ceilometer_view(notification)
    assert view["ctxt"] == {"user_id": "ctx-user", "tenant_id": "ctx-tenant",
                            "roles": ["admin", "member"], "request_id": "req-7"}
    assert view["metadata"] == {"message_id": "m-7", "timestamp": WHEN}
    assert {k: v for k, v in view.items() if k not in ("ctxt", "metadata")} == notification
