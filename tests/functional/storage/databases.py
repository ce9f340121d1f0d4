"""One recipe for an empty database of any driver, shared by the parametrised suites.

The storage scenario suite and the API suite both run once per driver name;
:func:`database_url` turns a name into the URL of a database of its own
(from :mod:`tests.servers`), dropped afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from pipeline import storage
from tests import servers


@contextlib.contextmanager
def database_url(name: str, directory: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty database of driver ``name``.

    ``directory`` holds file-based databases; ``request`` gives the
    session's MongoDB-protocol server to the ``mongodb`` driver.
    """
    with contextlib.ExitStack() as stack:
        if name == "memory":
            url = "memory://"
        elif name == "sqlite":
            url = stack.enter_context(servers.sqlite_database(directory))
        elif name == "postgresql":
            url = stack.enter_context(servers.postgresql_database())
        elif name == "mysql":
            url = stack.enter_context(servers.mysql_database())
        elif name == "mongodb":
            server = request.getfixturevalue("mongodb_server_url")
            url = stack.enter_context(servers.mongodb_database(server))
        elif name == "jsonl":  # the external plugin package tests/plugins/pipeline-jsonl
            if name not in storage.installed_drivers():
                servers.unavailable("plugin pipeline-jsonl", "pip install ./tests/plugins/*")
            url = f"jsonl://{directory}/{servers.unique_name()}"
        else:  # another installed third-party driver
            url = f"{name}://"
        yield url
