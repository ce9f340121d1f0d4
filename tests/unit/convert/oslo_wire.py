"""Notifications as oslo.messaging sends them to RabbitMQ and as Ceilometer receives them.

:func:`wire_body` runs oslo.messaging's real ``Notifier`` (its ``test``
driver keeps what the notifier hands to the transport: the sanitised request
context and the message it built) and then the steps of the rabbit driver's
``AMQPDriverBase._send``, with the driver's own functions: add the unique id,
flatten the context into ``_context_*`` keys, wrap in the v2 envelope for
``messagingv2``, and serialise with kombu's JSON, the body a consumer reads.

:func:`ceilometer_message` undoes it as oslo.messaging's notification
listener does for Ceilometer's agent (``deserialize_msg``,
``unpack_context``, the dispatcher's ``ctxt``/``metadata`` dict).

Services send their own ``RequestContext`` subclasses, whose ``to_dict``
adds keys to oslo.context's (nova and cinder ``user_id``/``project_id``,
neutron ``tenant_id``, heat ``trustor_user_id``, …): :class:`ServiceContext`
stands in for them. Glance and keystone notify with an empty context.
"""

from __future__ import annotations

import random
import types
import uuid
from collections.abc import Mapping
from typing import Any

import oslo_messaging
from kombu.utils import json as kombu_json
from oslo_config import cfg
from oslo_context.context import RequestContext
from oslo_messaging._drivers import amqp as rpc_amqp
from oslo_messaging._drivers import common as rpc_common
from oslo_messaging.notify import _impl_test, dispatcher

from benchmarks import corpus_payloads as payloads

#: Publisher id prefixes of the services (the corpus's), by event type prefix.
PUBLISHERS = {"compute": "compute", "network": "network", "subnet": "network",
              "port": "network", "router": "network", "floatingip": "network",
              "volume": "volume", "snapshot": "volume", "image": "image",
              "identity": "identity", "orchestration": "orchestration"}


class ServiceContext(RequestContext):  # type: ignore[misc]
    """oslo.context's RequestContext plus the keys a service's context adds in to_dict."""

    def __init__(self, *, service_keys: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_keys = dict(service_keys or {})

    def redacted_copy(self, **kwargs: Any) -> ServiceContext:
        """What the Notifier sends: oslo's redacted copy, keeping the service's keys."""
        copy: ServiceContext = super().redacted_copy(**kwargs)
        copy.service_keys = dict(self.service_keys)
        return copy

    def to_dict(self) -> dict[str, Any]:
        """oslo.context's dict, then the service's keys."""
        return {**super().to_dict(), **self.service_keys}


def service_context(service: str, rng: random.Random, project: str, user: str) -> Any:
    """The request context ``service`` notifies with (``{}`` for glance and keystone)."""
    if service in ("image", "identity"):
        return {}
    common = {"user_id": user, "project_id": project, "user_name": "alice",
              "project_name": "demo", "request_id": f"req-{uuid.UUID(int=rng.getrandbits(128))}",
              "roles": ["member", "reader"], "auth_token": "gAAAA-secret"}
    keys: dict[str, Any] = {"user_id": user, "project_id": project,
                            "timestamp": "2026-11-23T09:59:58.000000"}
    if service in ("compute", "volume"):
        keys.update(read_deleted="no", remote_address="10.0.0.5", quota_class=None,
                    service_catalog=[], project_name="demo", user_name="alice")
    elif service == "network":
        keys.update(tenant_id=project, tenant_name="demo", project_name="demo",
                    user_name="alice")
    elif service == "orchestration":
        trustor = rng.choice([None, rng.choice(payloads.USERS)])
        keys.update(tenant_id=project, tenant="demo", username="alice", trust_id=None,
                    trustor_user_id=trustor, region_name="RegionOne")
    return ServiceContext(service_keys=keys, **common)


def notifier(publisher_id: str) -> Any:
    """oslo.messaging's Notifier with its ``test`` driver (keeps what it would send)."""
    conf = cfg.ConfigOpts()
    conf([], project="oslo-wire")
    transport = oslo_messaging.get_notification_transport(conf, url="fake:")
    return oslo_messaging.Notifier(transport, publisher_id=publisher_id, driver="test",
                                   topics=["notifications"])


def wire_body(
    event_type: str, payload: Any, context: Any, publisher_id: str, *, version: float = 2.0,
    priority: str = "info",
) -> bytes:
    """The AMQP body oslo.messaging's rabbit driver publishes for this notification."""
    del _impl_test.NOTIFICATIONS[:]
    getattr(notifier(publisher_id), priority)(context, event_type, payload)
    ((ctxt, message, _priority, _retry),) = _impl_test.NOTIFICATIONS
    del _impl_test.NOTIFICATIONS[:]
    # AMQPDriverBase._send, for a notification (no reply queue):
    msg = dict(message)
    rpc_amqp._add_unique_id(msg)
    rpc_amqp.pack_context(msg, ctxt)
    if version == 2.0:
        msg = rpc_common.serialize_msg(msg)
    body: bytes = kombu_json.dumps(msg).encode()
    return body


def ceilometer_message(body: bytes) -> tuple[str, dict[str, Any]]:
    """``(priority, notification)`` as oslo.messaging's listener hands them to Ceilometer."""
    message = rpc_common.deserialize_msg(kombu_json.loads(body))
    ctxt = rpc_amqp.unpack_context(message)  # pops the _context_* keys
    rpc_amqp._MsgIdCache().check_duplicate_message(message)  # pops _unique_id
    incoming = types.SimpleNamespace(ctxt=ctxt.to_dict(), message=message)
    notification_dispatcher = dispatcher.NotificationDispatcher([], None)
    priority, _incoming, notification = notification_dispatcher._extract_user_message(incoming)
    return priority, notification
