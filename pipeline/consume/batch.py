"""Turning a batch of delivered messages into storage input and per-message outcomes.

A :class:`Translator` decodes and converts every message of a batch and
returns a :class:`Plan`: the events and ticket records to store, the
messages to dead-letter (with the reason) and how many notifications no
event definition matched (dropped on purpose, acknowledged). It does no I/O:
the consumer writes the plan, publishes the dead letters and acknowledges.

Outcome per message, decided by exception class alone:

* :class:`~pipeline.exceptions.DecodeError` or
  :class:`~pipeline.exceptions.ConversionError` → dead letter with the reason;
  nothing of that message is stored. Any other exception is a bug in a
  converter: it is logged with its traceback and the message dead-lettered
  the same way, so one poisonous message cannot crash every consumer in
  turn;
* a notification → an event (unless unmatched and dropped) and, when its
  priority is in ``[ticketing] notification_priorities``, also a ticket record;
* a log record (``[ticketing] queue``) → a ticket record.

Every ticket record carries the identity of the message it came from
(:func:`pipeline.consume.identity.occurrence_key`), so that storing a redelivered message again
changes no ticket: the broker delivers at least once, storage makes it
exactly once.
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from oslo_config import cfg

from pipeline.consume import reasons
from pipeline.consume.identity import bounded_key, occurrence_key
from pipeline.exceptions import ConversionError, DecodeError
from pipeline.models import Event, TicketRecord

LOG = logging.getLogger(__name__)


class Source(enum.Enum):
    """Which queue a message came from, hence how it is decoded."""

    NOTIFICATION = "notification"
    LOG_RECORD = "log_record"


@dataclass
class Item:
    """One delivered message of a batch and the queue it came from."""

    message: Any
    source: Source


@dataclass
class Plan:
    """Everything one batch produced; item lists run parallel to the records."""

    events: list[Event] = field(default_factory=list)
    event_items: list[Item] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    ticket_items: list[Item] = field(default_factory=list)
    dead: list[tuple[Item, str]] = field(default_factory=list)
    dropped: int = 0


@dataclass
class Pending:
    """A batch being collected: its messages in delivery order and their plan."""

    since: float
    items: list[Item] = field(default_factory=list)
    plan: Plan = field(default_factory=Plan)


class EventSource(Protocol):
    """The part of :class:`pipeline.convert.EventConverter` the consumer uses."""

    def to_event(self, notification: dict[str, Any]) -> Event | None: ...


class TicketMaker(Protocol):
    """:func:`pipeline.convert.tickets.ticket_record` with the grouping settings bound."""

    def __call__(
        self, record: dict[str, Any], *, occurrence_key: str | None = None
    ) -> TicketRecord: ...


class Translator:
    """Decode and convert batches; pure apart from holding the converters.

    ``make_ticket(record_dict, occurrence_key=...)`` builds a
    :class:`TicketRecord` from a log record dict (the grouping settings
    already bound); ``notification_record`` turns an error notification
    into such a dict.
    """

    def __init__(
        self,
        *,
        decode_notification: Callable[[Any], dict[str, Any]],
        converter: EventSource,
        decode_log_record: Callable[[Any], dict[str, Any]],
        make_ticket: TicketMaker,
        notification_record: Callable[[dict[str, Any]], dict[str, Any]],
        ticket_priorities: Collection[str] = ("error", "critical"),
    ) -> None:
        self.decode_notification = decode_notification
        self.converter = converter
        self.decode_log_record = decode_log_record
        self.make_ticket = make_ticket
        self.notification_record = notification_record
        self.ticket_priorities = frozenset(p.lower() for p in ticket_priorities)

    def plan(self, items: Iterable[Item]) -> Plan:
        """Translate every item; one bad message never affects the others."""
        plan = Plan()
        for item in items:
            self.add(plan, item)
        return plan

    def add(self, plan: Plan, item: Item) -> None:
        """Translate one item into ``plan`` (its records, or a dead letter)."""
        try:
            if item.source is Source.NOTIFICATION:
                self._notification(item, plan)
            else:
                record = self.decode_log_record(item.message.body)
                ticket = self.make_ticket(record, occurrence_key=occurrence_key(item.message))
                plan.tickets.append(ticket)
                plan.ticket_items.append(item)
        except (DecodeError, ConversionError) as err:
            plan.dead.append((item, reasons.of_error(err)))
        except Exception as err:  # a converter bug must not poison the queue
            LOG.exception("unexpected error converting a message; dead-lettering it")
            plan.dead.append((item, reasons.of_error(err)))

    def _notification(self, item: Item, plan: Plan) -> None:
        notification = self.decode_notification(item.message.body)
        event = self.converter.to_event(notification)
        ticket = None
        if str(notification.get("priority", "")).lower() in self.ticket_priorities:
            # The notification's own id: the same across redeliveries and
            # publishers' retries, as for its event.
            ticket = self.make_ticket(
                self.notification_record(notification),
                occurrence_key=bounded_key(str(notification["message_id"])),
            )
        # Only append once both conversions succeeded: a message is either
        # wholly stored or wholly dead-lettered.
        if event is None:
            plan.dropped += 1
        else:
            plan.events.append(event)
            plan.event_items.append(item)
        if ticket is not None:
            plan.tickets.append(ticket)
            plan.ticket_items.append(item)


def load_converter(conf: cfg.ConfigOpts) -> EventSource:
    """The event converter of ``[event]`` (raises DefinitionError on a bad file)."""
    from pipeline.convert import EventConverter

    return EventConverter.from_file(  # type: ignore[no-any-return]
        conf.event.definitions_cfg_file,
        drop_unmatched=conf.event.drop_unmatched_notifications,
        store_raw=tuple(conf.event.store_raw),
    )


def translator_from_config(conf: cfg.ConfigOpts) -> Translator:
    """A translator wired to the real converters and ``[ticketing]`` settings."""
    from pipeline.convert import decode_notification
    from pipeline.convert.tickets import decode_log_record, notification_record, ticket_record

    ticketing = conf.ticketing
    make_ticket = functools.partial(
        ticket_record,
        app_id=ticketing.app_id,
        salt=ticketing.hash_salt,  # None: derived from each record's app id
        grouping=ticketing.grouping,
    )
    return Translator(
        decode_notification=decode_notification,
        converter=load_converter(conf),
        decode_log_record=decode_log_record,
        make_ticket=make_ticket,
        notification_record=notification_record,
        ticket_priorities=ticketing.notification_priorities,
    )
