"""A MongoDB database for one benchmark run, dropped afterwards.

On the server given by ``--mongodb-url`` (or ``PIPELINE_TEST_MONGO``) when
there is one, otherwise on a SecantusDB started for the run exactly as the
tests start it (``secantusd-py`` with in-memory storage, from the ``test``
extra): the same helpers as :mod:`tests.servers`, so both measure the same thing.
"""

from __future__ import annotations

import contextlib
import pathlib
import sys
from collections.abc import Iterator

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for tests.servers

from tests import servers


@contextlib.contextmanager
def mongodb_database(server_url: str | None) -> Iterator[str]:
    """Yield the URL of a fresh database on ``server_url`` or on a SecantusDB of our own."""
    with contextlib.ExitStack() as stack:
        if server_url is None:
            server_url = stack.enter_context(servers.mongodb_server())
        yield stack.enter_context(servers.mongodb_database(server_url))
