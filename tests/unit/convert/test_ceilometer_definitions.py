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
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from benchmarks import corpus_payloads as payloads
from pipeline.convert import EventConverter, decode_notification
from pipeline.models import UTC, Event
from tests.servers import unavailable
from tests.unit.convert import oslo_wire

CEILOMETER_VERSION = "27.0.0"
INSTALL = "pip install --no-deps -r tests/requirements-nodeps.txt"
Typed = dict[str, tuple[int, Any]]

BUILDERS: dict[str, Callable[[random.Random, str], Any]] = {
    **payloads.NOVA, **payloads.GLANCE, **payloads.CINDER, **payloads.NEUTRON,
    **payloads.KEYSTONE, **payloads.HEAT,
}


def _role_assignment(rng: random.Random, event_type: str) -> dict[str, Any]:
    """keystone's role assignment notification (CADF plus the assignment)."""
    payload = payloads.KEYSTONE["identity.project.created"](rng, "identity.project.created")
    payload.update(action="created.role_assignment", role=rng.choice(payloads.USERS),
                   user=rng.choice(payloads.USERS), project=rng.choice(payloads.PROJECTS),
                   inherited_to_projects=False)
    return payload


BUILDERS["identity.role_assignment.created"] = _role_assignment
BUILDERS["identity.role_assignment.deleted"] = _role_assignment


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


def notification_body(event_type: str, seed: int, version: float) -> bytes:
    """A realistic wire body of ``event_type``: payload, context and publisher."""
    rng = random.Random(f"{event_type}/{seed}")
    payload = BUILDERS[event_type](rng, event_type)
    service = oslo_wire.PUBLISHERS[event_type.split(".")[0]]
    # Mostly the owner acting, sometimes an admin of another project.
    project = payloads.project_of(payload) or rng.choice(payloads.PROJECTS)
    user = payloads.user_of(payload) or rng.choice(payloads.USERS)
    if rng.random() < 0.3:
        project, user = rng.choice(payloads.PROJECTS), rng.choice(payloads.USERS)
    context = oslo_wire.service_context(service, rng, project, user)
    publisher = f"{service}.{rng.choice(payloads.HOSTS)}"
    return oslo_wire.wire_body(event_type, payload, context, publisher, version=version)


def both_events(
    body: bytes, pipeline_converter: EventConverter, ceilometer_converter: Any
) -> tuple[Event, Any]:
    ours = pipeline_converter.to_event(decode_notification(body))
    priority, message = oslo_wire.ceilometer_message(body)
    theirs = ceilometer_converter.to_event(priority, message)
    assert ours is not None and theirs is not None
    return ours, theirs


EVENT_TYPES = sorted(BUILDERS)


@pytest.mark.parametrize("version", [2.0, 1.0], ids=["v2", "v1"])
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_stock_definitions_give_ceilometers_traits(
    event_type: str, version: float, pipeline_converter: EventConverter,
    ceilometer_converter: Any,
) -> None:
    for seed in range(4):
        body = notification_body(event_type, seed, version)
        ours, theirs = both_events(body, pipeline_converter, ceilometer_converter)
        assert ours.message_id == theirs.message_id
        assert ours.event_type == theirs.event_type == event_type
        assert ours.generated == _aware(theirs.generated)
        assert typed(ours.traits) == typed(theirs.traits)
