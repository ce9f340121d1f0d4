"""A logbook 1.10.1 ticketing database, written by logbook's own TicketingHandler.

The log calls live in :func:`log_calls` so that pipeline's handler, logging
from the very same lines afterwards, computes the same ``grouping =
logbook`` keys.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import logbook
from logbook.ticketing import TicketingHandler as LogbookTicketingHandler


def log_calls(log: logbook.Logger, round_number: int) -> None:
    """One round of an application's errors: a few call sites, some every round."""
    log.error("disk {0} full", round_number % 3)  # noqa: PLE1205 - logbook's {} format
    if round_number % 2:
        log.warning("slow request: {0} ms", 100 + round_number)  # noqa: PLE1205 - logbook's {} format
    if round_number % 4 == 0:
        try:
            {}["missing"]
        except KeyError:
            log.exception("lookup failed for round {0}", round_number)  # noqa: PLE1205 - logbook's {} format
    if round_number == 3:
        log.critical("once only")


def write_logbook_database(url: str, apps: dict[str, int], **options: Any) -> None:
    """``apps[app]`` rounds of :func:`log_calls` per app, through logbook's handler
    (``options``: the backend's, such as ``table_prefix``)."""
    for app_id, rounds in apps.items():
        handler = LogbookTicketingHandler(url, app_id=app_id, **options)
        with handler.applicationbound():
            log = logbook.Logger(f"{app_id}.worker")
            for number in range(rounds):
                log_calls(log, number)
        handler.db.engine.dispose()


def logbook_rows(path: str, prefix: str = "logbook_") -> list[dict[str, Any]]:
    """Every ticket with its occurrences, straight from logbook's tables."""
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        tickets = [dict(row) for row in db.execute(f"SELECT * FROM {prefix}tickets")]
        for ticket in tickets:
            ticket["occurrences"] = [
                dict(row)
                for row in db.execute(
                    f"SELECT * FROM {prefix}occurrences WHERE ticket_id = ? ORDER BY occurrence_id",
                    (ticket["ticket_id"],),
                )
            ]
    return tickets
