"""Fixtures of the API tests: a seeded store per driver, served in-process.

``API_DRIVERS`` are the storage drivers every API test runs against, each on a
database of its own from :mod:`tests.servers`. Event data is read-only, so
one seeded database serves a whole module; ticket tests that change data get
a fresh one (``ticket_client``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from oslo_config import cfg

from pipeline import storage
from pipeline.api import create_app
from pipeline.models import UTC, Event, TicketRecord, Trait
from pipeline.service import prepare_service
from pipeline.storage import Connection
from tests import servers
from tests.functional.storage.databases import database_url

API_DRIVERS = ["memory", "sqlite", "postgresql", "mongodb"]
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _event(number: int, event_type: str, project: str | None, user: str | None,
           memory_mb: int, **extra: object) -> Event:
    traits = [
        Trait("memory_mb", Trait.INT_TYPE, memory_mb),
        Trait("ratio", Trait.FLOAT_TYPE, memory_mb / 1024),
        Trait("launched_at", Trait.DATETIME_TYPE, T0 - dt.timedelta(hours=number)),
        Trait("flavor", Trait.TEXT_TYPE, f"m1.size{memory_mb}"),
    ]
    if project is not None:
        traits.append(Trait("project_id", Trait.TEXT_TYPE, project))
    if user is not None:
        traits.append(Trait("user_id", Trait.TEXT_TYPE, user))
    return Event(f"e{number}", event_type, T0 + dt.timedelta(minutes=5 * number),
                 tuple(traits), extra.get("raw"))  # type: ignore[arg-type]


def make_events(ids: dict[str, str] | None = None) -> list[Event]:
    """e1..e5 at T0+5, +10, ... minutes; e4 belongs to no project.

    ``ids`` maps the names p1, p2, u1, u2, u3 to real ids (Keystone's);
    without it the names are the ids.
    """
    real = (ids or {}).get
    return [
        _event(1, "compute.instance.create.end", real("p1", "p1"), real("u1", "u1"), 2048),
        _event(2, "compute.instance.create.end", real("p1", "p1"), real("u2", "u2"), 4096),
        _event(3, "compute.instance.delete.end", real("p2", "p2"), real("u3", "u3"), 512),
        _event(4, "identity.authenticate", None, None, 1024),
        _event(5, "image.upload", real("p2", "p2"), real("u1", "u1"), 8192,
               raw={"payload": {"size": 1}}),
    ]


EVENTS = make_events()


def ticket_records(now: dt.datetime) -> list[TicketRecord]:
    """Three tickets: nova ERROR x3 (one with a traceback), glance WARNING, web CRITICAL."""
    def record(key: str, app: str, level: int, channel: str, minutes_ago: int,
               message: str, **data: object) -> TicketRecord:
        when = now - dt.timedelta(minutes=minutes_ago)
        return TicketRecord(key, app, when, level, channel, f"{channel}/x.py:{level}",
                            channel, {"message": message, "time": when.isoformat(), **data})

    return [
        record("a" * 40, "nova", 14, "nova.compute", 180, "Instance failed to spawn"),
        record("a" * 40, "nova", 14, "nova.compute", 90, "Instance failed to spawn"),
        record("a" * 40, "nova", 14, "nova.compute", 3, "Instance failed to spawn again",
               formatted_exception="Traceback (most recent call last):\n  File \"x.py\", "
               "line 14, in spawn\nRuntimeError: no valid host"),
        record("b" * 40, "glance", 13, "glance.store", 30, "Slow backend"),
        record("c" * 40, "web", 15, "web.app", 10, "Database is gone"),
    ]


def make_conf(auth_strategy: str = "noauth", **api: object) -> cfg.ConfigOpts:
    """A ConfigOpts for the app under test."""
    conf = prepare_service([], config_files=[])
    conf.set_override("auth_strategy", auth_strategy, group="api")
    for name, value in api.items():
        conf.set_override(name, value, group="api")
    return conf


@contextlib.contextmanager
def seeded(name: str, directory: str, request: pytest.FixtureRequest,
           events: list[Event] | None = None) -> Iterator[Connection]:
    """A connection to a new database of ``name`` holding ``events`` (EVENTS) and the tickets."""
    with database_url(name, directory, request) as url:
        conn = storage.get_connection(url, make_conf())
        try:
            conn.upgrade()
            assert not conn.record_events(EVENTS if events is None else events).failed
            if storage.Capability.TICKETS in conn.capabilities:
                conn.record_tickets(ticket_records(dt.datetime.now(UTC)))  # type: ignore[attr-defined]
            yield conn
        finally:
            conn.close()


ClientFactory = Callable[..., TestClient]


@pytest.fixture(scope="module", params=API_DRIVERS)
def events_conn(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """One seeded database per driver for a whole module (read-only tests)."""
    with seeded(request.param, str(tmp_path_factory.mktemp("api")), request) as conn:
        yield conn


@contextlib.contextmanager
def serve(conn: Connection, auth_strategy: str = "noauth", **api: object) -> Iterator[TestClient]:
    """A test client of an app over ``conn``."""
    with TestClient(create_app(make_conf(auth_strategy, **api), conn)) as client:
        yield client


@pytest.fixture
def client_for(events_conn: Connection) -> Iterator[ClientFactory]:
    """``client_for(auth_strategy='noauth', **api_options)`` over the module's data."""
    with contextlib.ExitStack() as stack:
        yield lambda auth_strategy="noauth", **api: stack.enter_context(
            serve(events_conn, auth_strategy, **api)
        )


@pytest.fixture
def ticket_conn(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Connection]:
    """A fresh seeded database (tickets change) of the parametrised driver."""
    with seeded(request.param, str(tmp_path), request) as conn:
        skip_without_tickets(conn)
        yield conn


@pytest.fixture
def memory_conn(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Connection]:
    """A seeded memory store, for tests of HTTP behaviour rather than storage."""
    with seeded("memory", str(tmp_path), request) as conn:
        yield conn


def skip_without_tickets(conn: Connection) -> None:
    """Skip, visibly, on a driver that does not declare the tickets capability."""
    if storage.Capability.TICKETS not in conn.capabilities:
        pytest.skip(f"driver {storage.url_scheme(conn.url)} does not declare tickets")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ticket_conn" in metafunc.fixturenames:
        metafunc.parametrize("ticket_conn", API_DRIVERS, indirect=True)


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn in a thread on a free loopback port; yields its base URL."""
    port = servers.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def csrf_token(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def page_post(client: TestClient, path: str, form_page: str = "/tickets",
              **kwargs: object) -> object:
    """POST a page form the way a browser does: with the token of ``form_page``."""
    token = csrf_token(client.get(form_page).text)
    return client.post(path, data={"csrf_token": token}, **kwargs)  # type: ignore[arg-type]
