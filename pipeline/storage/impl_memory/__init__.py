"""In-process storage driver: a real driver kept in Python dicts.

URL: ``memory://`` (anything after the scheme is ignored; every
:class:`Connection` has its own store). Capabilities: all of them.
Options: none. Nothing survives the process. It exists for tests, demos
and embedding, and it is the reference implementation of the query
semantics in :mod:`pipeline.storage.query` (:mod:`.events` answers queries
with :func:`pipeline.storage.query.evaluate`, built on the same operator
table the SQL and MongoDB drivers translate) and of the ticket rules in
:mod:`pipeline.storage.ticket_rules` (:mod:`.tickets`).
"""

from __future__ import annotations

from oslo_config import cfg

from pipeline.storage import base
from pipeline.storage.capabilities import Capability
from pipeline.storage.impl_memory.events import MemoryEvents
from pipeline.storage.impl_memory.tickets import MemoryTickets

__all__ = ["Connection"]


class Connection(MemoryEvents, MemoryTickets, base.Connection):
    """Memory driver: events and tickets in dicts (see the module docstring)."""

    capabilities = frozenset(Capability)

    def __init__(self, url: str = "memory://", conf: cfg.ConfigOpts | None = None) -> None:
        super().__init__(url, conf)
        self._open_events()
        self._open_tickets()

    def clear(self) -> None:
        """Forget every event and ticket."""
        self._clear_events()
        self._clear_tickets()

    def upgrade(self) -> None:
        """Nothing to create: the store is a dict."""
