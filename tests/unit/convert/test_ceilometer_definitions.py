"""Ceilometer's stock event definitions, as they are, give Ceilometer's traits.

The file is read from the ceilometer 27.0.0 wheel, installed without its
dependencies by tests/requirements-nodeps.txt (never copied into this
repository). Notifications are built by oslo.messaging's real Notifier and
rabbit wire format (tests/unit/convert/oslo_wire.py), v2 envelopes and v1,
for nova, glance, cinder, neutron, keystone and heat. The expected traits
come from Ceilometer's own converter (``ceilometer.event.converter``, which
imports with the small pure-Python packages listed next to ceilometer), fed
with the dict oslo.messaging's listener hands Ceilometer's agent.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import pathlib
import random
import types
from typing import Any

import pytest
import yaml

from pipeline.convert import EventConverter, decode_notification
from pipeline.convert.traits import DEFAULT_TRAITS
from pipeline.models import UTC, Event, Trait
from tests.servers import unavailable
from tests.unit.convert import oslo_wire, samples

CEILOMETER_VERSION = "27.0.0"
INSTALL = "pip install --no-deps -r tests/requirements-nodeps.txt"
Typed = dict[str, tuple[int, Any]]
SHIPPED = EventConverter.from_file()


def _stock_file() -> pathlib.Path:
    try:
        version = importlib.metadata.version("ceilometer")
    except importlib.metadata.PackageNotFoundError as err:
        unavailable(f"ceilometer {CEILOMETER_VERSION} ({INSTALL})", err)
    if version != CEILOMETER_VERSION:
        unavailable(f"ceilometer {CEILOMETER_VERSION} ({INSTALL})", f"found {version}")
    ceilometer = importlib.import_module("ceilometer")
    path = pathlib.Path(ceilometer.__file__).parent / "pipeline/data/event_definitions.yaml"
    if not path.is_file():
        unavailable("ceilometer's event_definitions.yaml", f"not at {path}")
    return path


@pytest.fixture(scope="module")
def stock_file() -> pathlib.Path:
    """Ceilometer 27.0.0's event_definitions.yaml, where pip installed it."""
    return _stock_file()


@pytest.fixture(scope="module")
def pipeline_converter(stock_file: pathlib.Path) -> EventConverter:
    """pipeline's converter loaded with Ceilometer's stock file, as an operator would."""
    return EventConverter.from_file(stock_file)


@pytest.fixture(scope="module")
def ceilometer_converter(stock_file: pathlib.Path) -> Any:
    """Ceilometer's own converter on the same file (conf: its defaults)."""
    try:
        converter = importlib.import_module("ceilometer.event.converter")
        from stevedore import extension
    except ImportError as err:
        unavailable(f"ceilometer's converter ({INSTALL})", err)
    conf = types.SimpleNamespace(event=types.SimpleNamespace(
        store_raw=[], drop_unmatched_notifications=False))
    definitions = yaml.safe_load(stock_file.read_text())
    plugins = extension.ExtensionManager(namespace="ceilometer.event.trait_plugin")
    return converter.NotificationEventsConverter(conf, definitions, plugins)


def typed(traits: Any) -> Typed:
    return {trait.name: (trait.dtype, _aware(trait.value)) for trait in traits}


def _aware(value: Any) -> Any:
    # Ceilometer's datetimes are naive UTC; pipeline's are aware UTC.
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def both_events(
    body: bytes, pipeline_converter: EventConverter, ceilometer_converter: Any
) -> tuple[Event, Any]:
    ours = pipeline_converter.to_event(decode_notification(body))
    priority, message = oslo_wire.ceilometer_message(body)
    theirs = ceilometer_converter.to_event(priority, message)
    assert ours is not None and theirs is not None
    return ours, theirs


@pytest.mark.parametrize("version", [2.0, 1.0], ids=["v2", "v1"])
@pytest.mark.parametrize("event_type", samples.EVENT_TYPES)
def test_stock_definitions_give_ceilometers_traits(
    event_type: str, version: float, pipeline_converter: EventConverter,
    ceilometer_converter: Any,
) -> None:
    for seed in range(4):
        body = samples.notification_body(event_type, seed, version)
        ours, theirs = both_events(body, pipeline_converter, ceilometer_converter)
        assert ours.message_id == theirs.message_id
        assert ours.event_type == theirs.event_type == event_type
        assert ours.generated == _aware(theirs.generated)
        assert typed(ours.traits) == typed(theirs.traits)


@pytest.mark.parametrize("version", [2.0, 1.0], ids=["v2", "v1"])
@pytest.mark.parametrize("event_type", [
    "port.create.end", "port.update.end", "port.delete.end",
    "network.create.end", "network.update.end", "network.delete.end",
])
def test_neutron_events_get_the_requesters_project_and_user_from_ctxt(
    event_type: str, version: float, pipeline_converter: EventConverter
) -> None:
    """The issue's case: port.* and network.* read project_id and user_id as ctxt.*."""
    payload = samples.BUILDERS[event_type](random.Random(3), event_type)
    context = oslo_wire.service_context("network", random.Random(3), "ctx-project", "ctx-user")
    body = oslo_wire.wire_body(event_type, payload, context, "network.node-01", version=version)
    for converter in (pipeline_converter, SHIPPED):
        event = converter.to_event(decode_notification(body))
        assert event is not None
        traits = typed(event.traits)
        assert traits["project_id"] == (Trait.TEXT_TYPE, "ctx-project")
        assert traits["user_id"] == (Trait.TEXT_TYPE, "ctx-user")
        assert traits["tenant_id"] == (Trait.TEXT_TYPE, "ctx-project")
        assert traits["resource_id"] == (Trait.TEXT_TYPE, payload[event_type.split(".")[0]]["id"])


def test_heat_user_is_the_trustor_when_the_stack_acts_on_a_trust(
    pipeline_converter: EventConverter,
) -> None:
    payload = samples.BUILDERS["orchestration.stack.update.end"](
        random.Random(1), "orchestration.stack.update.end")
    context = oslo_wire.ServiceContext(
        user_id="heat-trustee", project_id="p",
        service_keys={"user_id": "heat-trustee", "trustor_user_id": "the-trustor"})
    body = oslo_wire.wire_body("orchestration.stack.update.end", payload, context, "orchestration.h")
    for converter in (pipeline_converter, SHIPPED):
        event = converter.to_event(decode_notification(body))
        assert event is not None
        assert event.trait("user_id") == Trait("user_id", Trait.TEXT_TYPE, "the-trustor")


@pytest.mark.parametrize("event_type", samples.EVENT_TYPES)
def test_shipped_definitions_have_ceilometers_trait_names_and_types(
    event_type: str, pipeline_converter: EventConverter
) -> None:
    """For each event type, every trait Ceilometer's file defines is defined alike here."""
    theirs = pipeline_converter.definition_for(event_type)
    # No definition of Ceilometer's matching: it gives the default traits only.
    their_traits = DEFAULT_TRAITS if theirs is None else theirs.traits
    ours = SHIPPED.definition_for(event_type)
    assert ours is not None
    our_types = {trait.name: trait.dtype for trait in ours.traits}
    missing = {t.name: t.dtype for t in their_traits if our_types.get(t.name) != t.dtype}
    assert missing == {}


@pytest.mark.parametrize("version", [2.0, 1.0], ids=["v2", "v1"])
@pytest.mark.parametrize("event_type", samples.EVENT_TYPES)
def test_shipped_definitions_give_every_ceilometer_trait_the_same_value(
    event_type: str, version: float, ceilometer_converter: Any
) -> None:
    """Queries carry over: pipeline's own file only adds traits to Ceilometer's."""
    for seed in range(4):
        body = samples.notification_body(event_type, seed, version)
        ours = SHIPPED.to_event(decode_notification(body))
        priority, message = oslo_wire.ceilometer_message(body)
        theirs = typed(ceilometer_converter.to_event(priority, message).traits)
        assert ours is not None
        shared = {name: value for name, value in typed(ours.traits).items() if name in theirs}
        assert shared == theirs
