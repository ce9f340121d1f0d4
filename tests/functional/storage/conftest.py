"""The storage scenario suite's fixture: every test runs once per driver.

``conn`` is a connected, upgraded driver on a database of its own. A test
marked ``@pytest.mark.requires(Capability.X)`` is skipped — visibly, with the
reason — for drivers that do not declare X; never skip by driver name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oslo_config import cfg

from pipeline import storage
from pipeline.storage import Connection
from tests.functional.storage.databases import database_url

#: Drivers the scenario suite runs against. A driver not listed here does not merge.
DRIVERS = ["memory", "jsonl", "sqlite", "postgresql", "mysql", "mongodb"]


@pytest.fixture(params=DRIVERS)
def storage_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """The URL of an empty database of the parametrised driver."""
    with database_url(request.param, str(tmp_path), request) as url:
        yield url


@pytest.fixture
def conn(storage_url: str, conf: cfg.ConfigOpts, request: pytest.FixtureRequest) -> Iterator[Connection]:
    """A connected driver with its schema created, closed after the test."""
    connection = storage.get_connection(storage_url, conf)
    for marker in request.node.iter_markers("requires"):
        missing = [cap for cap in marker.args if cap not in connection.capabilities]
        if missing:
            connection.close()
            pytest.skip(
                f"driver {storage.url_scheme(storage_url)} does not declare "
                f"{', '.join(cap.value for cap in missing)}"
            )
    connection.upgrade()
    try:
        yield connection
    finally:
        connection.close()
