"""Property-based requests generated from the served OpenAPI document.

schemathesis reads ``/openapi.json`` and sends bounded numbers of generated
requests (valid and invalid) to every operation; none may get a 5xx, and
every 2xx body must match the documented schema. Runs on the memory driver
with the seeded data, under noauth so generated requests reach the handlers.
"""

from __future__ import annotations

import datetime as dt

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from pipeline import storage
from pipeline.api import create_app
from pipeline.models import UTC
from tests.functional.api.conftest import EVENTS, make_conf, ticket_records

_conn = storage.get_connection("memory://")
_conn.record_events(EVENTS)
_conn.record_tickets(ticket_records(dt.datetime.now(UTC)))  # type: ignore[attr-defined]
_app = create_app(make_conf("noauth"), _conn)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


def test_the_openapi_document_lists_every_endpoint() -> None:
    paths = set(schema.raw_schema["paths"])
    assert {"/v2/events", "/v2/events/{message_id}", "/v2/event_types",
            "/v2/event_types/{event_type}/traits",
            "/v2/event_types/{event_type}/traits/{trait_name}", "/v2/capabilities",
            "/v1/tickets", "/v1/tickets/{ticket_id}", "/v1/tickets/{ticket_id}/occurrences",
            "/v1/tickets/{ticket_id}/solve"} <= paths


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
