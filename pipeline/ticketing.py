"""logbook's ticketing API, as thin faces over pipeline's storage drivers.

The names and signatures are those of ``logbook.ticketing`` (see
``TicketingHandler``), so an application switches by changing one import::

    from pipeline.ticketing import TicketingHandler
    handler = TicketingHandler('sqlite:///myapp-logs.db')

The handler is a :class:`logging.Handler` (``logging.getLogger().addHandler
(handler)``) and, when logbook is installed, also a logbook handler
(``handler.push_application()``). Either way each record becomes one
occurrence of its ticket through the driver's race-free ``record_tickets``.

By default a record is only queued in the application's thread; a
background thread writes the queue in batches, retries while storage is
unavailable, and drops (and counts) what does not fit in the queue
(:mod:`pipeline.ticket_writer`, :mod:`pipeline.ticket_batches`).
``TicketingHandler(..., synchronous=True)`` writes each record inside the
log call instead, one transaction per record, as logbook does.

Differences from logbook, on purpose: the hash is stored as hex text (logbook
passed bytes, which PostgreSQL rejects); tickets group by the portable
``location`` strategy unless ``grouping='logbook'`` is passed (see
:mod:`pipeline.convert.grouping`); ``level`` uses logbook's numbers for
both kinds of records; an unknown ticket id raises
:class:`~pipeline.exceptions.TicketNotFound` instead of returning None;
tickets and occurrences are :mod:`pipeline.models` objects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from typing import TYPE_CHECKING, Any

from pipeline.convert.grouping import DEFAULT_STRATEGY, default_salt, grouping_hash
from pipeline.convert.logrecord import logbook_level
from pipeline.convert.tickets import LEVELS
from pipeline.models import Occurrence, Ticket
from pipeline.ticket_backends import BackendBase, MongoDBBackend, SQLAlchemyBackend
from pipeline.ticket_batches import MESSAGE_ATTRIBUTE, TicketBatches, record_dict
from pipeline.ticket_writer import TicketWriter

if TYPE_CHECKING:
    from _hashlib import HASH

try:  # logbook is optional: with it, the handlers are logbook handlers too.
    import logbook

    _LOGBOOK_BASES: tuple[type, ...] = (logbook.Handler,)
except ImportError:  # pragma: no cover - the test extra installs logbook
    logbook = None
    _LOGBOOK_BASES = ()

__all__ = [
    "BackendBase",
    "MongoDBBackend",
    "Occurrence",
    "SQLAlchemyBackend",
    "Ticket",
    "TicketingBaseHandler",
    "TicketingHandler",
    "record_dict",
]


def _level_number(level: int | str) -> int:
    if isinstance(level, str):
        try:
            return LEVELS[level.upper()]
        except KeyError:
            raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}") from None
    return int(level)


def _salt_text(hash_salt: str | bytes | None) -> str | None:
    if isinstance(hash_salt, bytes):  # logbook documents a "binary string"
        return hash_salt.decode("utf-8")
    return hash_salt


#: The lock of a handler whose emit needs none.
_NO_LOCK = contextlib.nullcontext()


class TicketingBaseHandler(logging.Handler, *_LOGBOOK_BASES):  # type: ignore[misc]
    """Base class of ticketing handlers: the level, filter and grouping hash.

    ``level`` is a logbook level number or name (``'ERROR'`` is 14);
    ``filter`` is logbook's ``filter(record, handler) -> bool``;
    :attr:`grouping` picks the strategy of :meth:`hash_record_raw`.
    """

    #: Grouping strategy (``location``, ``logbook`` or ``template``).
    grouping = DEFAULT_STRATEGY
    #: True once registered with :mod:`logging` (construction got that far).
    _registered = False
    #: Whether :meth:`handle` serialises stdlib records' emits with the handler's lock.
    _locks_emit = True

    def __init__(
        self,
        hash_salt: str | bytes | None,
        level: int | str = 0,
        filter: Any = None,
        bubble: bool = False,
    ) -> None:
        number = _level_number(level)
        hash_salt = _salt_text(hash_salt)
        # Nothing may fail from here on: logging.Handler.__init__ registers the
        # handler for logging.shutdown(), which closes it at interpreter exit.
        logging.Handler.__init__(self, number)
        self._registered = True
        if logbook is not None:
            logbook.Handler.__init__(self, number, filter, bubble)
        # logbook's filter callable shadows logging.Filterer.filter, which
        # only logging.Handler.handle calls, and handle is overridden here.
        self.filter = filter  # type: ignore[method-assign,assignment]
        self.bubble = bubble
        self.hash_salt = hash_salt

    def __del__(self) -> None:
        """Nothing: collecting a handler closes nothing.

        logbook gives every handler class with a ``close`` a ``__del__`` that
        calls it; defining one here stops that, so a backend taken from a
        handler (``db = TicketingHandler(url).db``) outlives the handler.
        Backends close their connections when they are collected.
        """

    def hash_record_raw(self, record: Any) -> HASH:
        """The SHA-1 object of ``record``'s grouping key (salted)."""
        return grouping_hash(record_dict(record), self.hash_salt, self.grouping)

    def hash_record(self, record: Any) -> str:
        """The grouping key of ``record`` as hex text."""
        return self.hash_record_raw(record).hexdigest()

    def handle(self, record: Any) -> bool:  # type: ignore[override]
        """Emit a stdlib or logbook record; False when level or filter reject it."""
        if not isinstance(record, logging.LogRecord):
            return bool(logbook.Handler.handle(self, record))  # filtered by logbook already
        if logbook_level(record.levelno) < self.level:
            return False
        record_filter: Any = self.filter
        if record_filter is not None and not record_filter(record, self):
            return False
        lock: Any = self.lock if self._locks_emit else _NO_LOCK
        with lock:
            try:
                self.emit(record)
            except Exception:  # noqa: BLE001 - a log handler reports, never raises
                self.handleError(record)
        return True


class TicketingHandler(TicketingBaseHandler):
    """A handler that writes each log record as an occurrence of its ticket.

    By default :meth:`emit` only queues the record; a background thread
    writes the queue in batches (see :mod:`pipeline.ticket_writer`), so a
    log call never waits for the database and never raises from it.

    :param uri: a storage URL (``sqlite:///path``, ``postgresql://...``,
        ``mysql://...``, ``mongodb://...``) or, for the SQLAlchemy backend,
        an SQLAlchemy engine.
    :param app_id: keeps several applications apart in one database.
    :param hash_salt: salt of the grouping hash; default ``'apphash-' + app_id``.
    :param backend: a :class:`BackendBase` subclass; default
        :attr:`default_backend` (MongoDB URLs pick :class:`MongoDBBackend`).
    :param synchronous: True writes each record inside :meth:`emit`, one
        transaction per record, errors reported by ``handleError`` (logbook's
        behaviour); the options below then do not apply.
    :param queue_size: the most records held in memory; beyond, new records
        are dropped and counted in :attr:`dropped`.
    :param batch_size: the most records in one ``record_tickets`` call; a
        batch is written once this many wait, or after ``batch_interval``
        seconds. Larger batches store bursts faster (each bumps its tickets
        and commits once: with 2,000 PostgreSQL spends about a tenth less
        CPU per record than with 1,000, with 5,000 about a quarter less),
        but the thread then waits less for the database and takes more of
        the interpreter from the application's threads: log calls made
        during a burst take longer (``benchmarks/README.md``).
    :param flush_timeout: how long :meth:`flush` without an argument,
        :meth:`close` and the exit hook wait for the queue to be written.
    :param db_options: options of the backend (``table_prefix``,
        ``metadata``, ``autocreate_tables``); ``grouping`` sets the
        strategy of this handler.
    """

    #: The backend used when none is given.
    default_backend: type[BackendBase] = SQLAlchemyBackend
    _writer: TicketWriter | None = None

    def __init__(
        self,
        uri: Any,
        app_id: str = "generic",
        level: int | str = 0,
        filter: Any = None,
        bubble: bool = False,
        hash_salt: str | bytes | None = None,
        backend: type[BackendBase] | None = None,
        *,
        synchronous: bool = False,
        queue_size: int = 10000,
        batch_size: int = 2000,
        batch_interval: float = 0.2,
        flush_timeout: float = 5.0,
        **db_options: Any,
    ) -> None:
        if hash_salt is None:
            hash_salt = default_salt(app_id)
        # Bad arguments fail before a connection is opened, and the backend
        # is made before the base __init__ registers the handler with logging:
        # a failed start leaves nothing registered for logging.shutdown().
        number, hash_salt = _level_number(level), _salt_text(hash_salt)
        self.grouping = db_options.pop("grouping", self.grouping)
        self.app_id = app_id
        self.synchronous = synchronous
        batches = TicketBatches(self, TicketingHandler)
        writer = TicketWriter(  # checks its options: before connecting, too
            batches.prepare,
            batches.store,
            queue_size=queue_size,
            batch_size=batch_size,
            batch_interval=batch_interval,
            flush_timeout=flush_timeout,
            name=f"pipeline-tickets-{app_id}",
        )
        if backend is None:
            is_mongo = isinstance(uri, str) and uri.startswith("mongodb")
            backend = MongoDBBackend if is_mongo else self.default_backend
        db_options["uri"] = uri
        self.set_backend(backend, **db_options)
        TicketingBaseHandler.__init__(self, hash_salt, number, filter, bubble)
        if not synchronous:
            self._locks_emit = False  # emit only appends to a deque
            self._writer = writer
        _HANDLERS.add(self)

    def set_backend(self, cls: type[BackendBase], **options: Any) -> None:
        """Create the backend ``cls(**options)`` as :attr:`db`."""
        self.db = cls(**options)

    def process_record(self, record: Any, hash: str) -> dict[str, Any]:
        """The JSON-safe dict stored with the occurrence; override to tamper with it."""
        return record_dict(record)

    def record_ticket(self, record: Any, data: dict[str, Any], hash: str) -> None:
        """Record a new ticket or a new occurrence of one, by ``hash``."""
        self.db.record_ticket(record, data, hash, self.app_id)

    def emit(self, record: Any) -> None:
        """Queue one record for the writer thread, or write it now when synchronous.

        Queued, a stdlib record's message is formatted now (its arguments
        may change once the call returns) and a logbook record's frame
        information is pulled; grouping, :meth:`process_record` and the
        write happen on the writer thread.
        """
        writer = self._writer
        if writer is None:
            hash_value = self.hash_record(record)
            data = self.process_record(record, hash_value)
            self.record_ticket(record, data, hash_value)
            return
        if isinstance(record, logging.LogRecord):
            record.__dict__[MESSAGE_ATTRIBUTE] = record.getMessage()
        elif not isinstance(record, dict):
            record.pull_information()  # logbook closes the record when the call returns
        writer.put(record)

    @property
    def dropped(self) -> int:
        """Records dropped because the queue was full (0 when synchronous)."""
        return 0 if self._writer is None else self._writer.dropped

    def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Wait until every record queued so far is written; False if ``timeout`` passed first.

        ``timeout`` None waits at most ``flush_timeout``. Records the storage
        refused count as written (they were reported through ``handleError``).
        """
        return True if self._writer is None else self._writer.flush(timeout)

    def close(self) -> None:
        """Write what is queued (at most ``flush_timeout``), then close the backend.

        Harmless when repeated, and on a handler whose construction failed.
        """
        try:
            if self._writer is not None:
                self._writer.close()
            db = getattr(self, "db", None)  # None when construction failed
            if db is not None:
                db.close()
        finally:
            if self._registered:
                logging.Handler.close(self)

    def _after_fork_in_child(self) -> None:
        """Leave the parent's pooled database connections to the parent.

        A child that used (or closed) them would talk over the parent's
        sockets; SQLAlchemy's answer is a new, empty pool in the child.
        """
        engine = getattr(getattr(getattr(self, "db", None), "connection", None), "engine", None)
        if engine is not None:
            engine.dispose(close=False)


#: Every handler of this process, for the fork hook.
_HANDLERS: weakref.WeakSet[TicketingHandler] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for handler in list(_HANDLERS):
        handler._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
