"""Fixtures shared by every test: configuration and server-backed databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oslo_config import cfg

from pipeline.service import prepare_service
from tests import servers
from tests.keystone_server import Keystone, KeystoneWorld, keystone_server, make_world


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    """A fresh ConfigOpts with every option registered and no config file."""
    return prepare_service([], config_files=[])


@pytest.fixture(scope="session")
def mongodb_server_url() -> Iterator[str]:
    """One MongoDB-protocol server for the whole test session."""
    with servers.mongodb_server() as url:
        yield url


@pytest.fixture(scope="session")
def keystone() -> Iterator[Keystone]:
    """One real Keystone for the whole test session (see tests/keystone_server.py)."""
    with keystone_server() as server:
        yield server


@pytest.fixture(scope="session")
def keystone_world(keystone: Keystone) -> KeystoneWorld:
    """Projects p1, p2 and the people of tests/keystone_server.PEOPLE, once per session."""
    return make_world(keystone)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(*capabilities): skip unless the driver declares them"
    )
