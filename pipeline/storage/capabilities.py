"""What a storage driver can do: the :class:`Capability` enum.

A driver lists its capabilities in ``capabilities`` (a class attribute,
``frozenset[Capability]``); :func:`pipeline.storage.get_connection` refuses
at start-up a driver lacking one the caller ``require``\\ s, and the public
methods of the driver interface check theirs before running. A module of
its own, importing nothing of the package, so that both halves of the
interface (:mod:`.base`, :mod:`.tickets`) use it without importing each other.
"""

from __future__ import annotations

import enum


class Capability(enum.Enum):
    """What a driver can do; checked at start-up, never discovered by failing."""

    #: record_events, get_events, get_event_types, get_trait_types, get_traits
    EVENTS = "events"
    #: clear_expired_data
    EVENT_EXPIRY = "event_expiry"
    #: record_tickets and the ticket read/solve/delete operations
    TICKETS = "tickets"
    #: clear_expired_occurrences
    TICKET_EXPIRY = "ticket_expiry"
