"""Reading a Panko database: Panko 10's SQLAlchemy layout, page by page.

Tables ``event_type`` (``id``, ``desc``), ``event`` (``id``, ``message_id``,
``generated``, ``raw`` JSON text, ``event_type_id``) and one table per trait
type, ``trait_text``, ``trait_int``, ``trait_float``, ``trait_datetime``
(``event_id``, ``key``, ``value``), on SQLite, PostgreSQL or MySQL/MariaDB,
where Panko stored its timestamps as ``DECIMAL(20,6)`` seconds since the
epoch. They are declared here with SQLAlchemy Core; nothing of Panko's is
imported.

Events are read in pages ordered by Panko's ``event.id`` (its primary key):
the next page starts after the last id read (keyset pagination), so a page
costs the same wherever it lies and memory holds one page whatever the
database's size. A page's traits come with four queries, one per trait
table, each a range scan of the table's primary key when the page's ids
are close together (see :func:`_scans`); an SQLite file's are read with the
sqlite3 module itself (:mod:`.panko_sqlite`), the rest through SQLAlchemy.
Values come back typed as Panko stored them; datetimes (naive UTC in Panko)
become aware UTC.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import json
import operator
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from pipeline.importers import panko_sqlite
from pipeline.models import UTC, Trait, to_utc
from pipeline.storage.impl_sqlalchemy.engine import translated_errors

TABLES = ("event_type", "event", "trait_text", "trait_int", "trait_float", "trait_datetime")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


class PankoTime(sa.types.TypeDecorator[dt.datetime]):
    """Panko's ``PreciseTimestamp``: naive UTC datetimes, ``DECIMAL(20,6)`` on MySQL."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(sa.Numeric(20, 6, asdecimal=True))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name in ("mysql", "mariadb"):
            delta = to_utc(value) - _EPOCH
            return decimal.Decimal(delta.days * 86400 + delta.seconds) + decimal.Decimal(
                delta.microseconds
            ).scaleb(-6)
        return to_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):  # naive UTC as Panko stored it
            return value.replace(tzinfo=UTC) if value.tzinfo is None else to_utc(value)
        micros = int(decimal.Decimal(value).scaleb(6).to_integral_value())
        return _EPOCH + dt.timedelta(microseconds=micros)


def _trait_table(metadata: sa.MetaData, name: str, value_type: Any) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("event_id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", value_type),
    )


_METADATA = sa.MetaData()
EVENT_TYPE = sa.Table(
    "event_type",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("desc", sa.String(255)),
)
EVENT = sa.Table(
    "event",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("message_id", sa.String(50)),
    sa.Column("generated", PankoTime()),
    sa.Column("raw", sa.Text),
    sa.Column("event_type_id", sa.Integer),
)
#: Trait tables by pipeline's (and Panko's) dtype.
TRAIT_TABLES = {
    Trait.TEXT_TYPE: _trait_table(_METADATA, "trait_text", sa.String(255)),
    Trait.INT_TYPE: _trait_table(_METADATA, "trait_int", sa.BigInteger),
    Trait.FLOAT_TYPE: _trait_table(_METADATA, "trait_float", sa.Float(53)),
    Trait.DATETIME_TYPE: _trait_table(_METADATA, "trait_datetime", PankoTime()),
}


@dataclass(frozen=True)
class PankoFilter:
    """Which events to read: ``since``/``until`` inclusive bounds of ``generated``
    (naive means UTC), ``event_types`` exact names (empty: all)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    event_types: tuple[str, ...] = ()

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """The WHERE conditions over ``event`` joined with ``event_type``."""
        found: list[sa.ColumnElement[bool]] = []
        if self.since is not None:
            found.append(EVENT.c.generated >= to_utc(self.since))
        if self.until is not None:
            found.append(EVENT.c.generated <= to_utc(self.until))
        if self.event_types:
            found.append(EVENT_TYPE.c.desc.in_(self.event_types))
        return found


#: Where a Panko event lies in the reading order: ``event.id`` in the
#: SQLAlchemy layout, the document's ``_id`` (the message id) in MongoDB's.
PankoId = int | str


class PankoEvent(NamedTuple):
    """One Panko event as stored, before it becomes a pipeline event."""

    panko_id: PankoId
    message_id: str | None
    event_type: str | None
    generated: dt.datetime | None
    #: JSON text (SQLAlchemy layout) or the document itself (MongoDB layout).
    raw: str | dict[str, Any] | None
    #: (name, dtype, value) in Panko's tables' order.
    traits: list[tuple[str, int, Any]]
    #: Why the stored record cannot be an event at all (a reader's finding).
    problem: str | None = None


@dataclass
class PankoReader:
    """Pages of a Panko database's events (see the module docstring)."""

    engine: sa.Engine
    where: PankoFilter = field(default_factory=PankoFilter)
    action: str = "reading the Panko database"

    def _selected(self, *columns: Any) -> sa.Select[Any]:
        joined = EVENT.outerjoin(EVENT_TYPE, EVENT.c.event_type_id == EVENT_TYPE.c.id)
        return sa.select(*columns).select_from(joined).where(*self.where.conditions())

    def count(self) -> int:
        """How many events the filter selects."""
        with translated_errors(self.action), self.engine.connect() as conn:
            return int(conn.execute(self._selected(sa.func.count())).scalar_one())

    def unpaged(self) -> dict[str, int]:
        """Selected events that :meth:`pages` cannot reach, by reason: none here
        (every row has an integer id)."""
        return {}

    @staticmethod
    def id_of(text: str) -> int:
        """The Panko id written as ``text`` (``--after-id``); ValueError if not one."""
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"Panko's SQL event ids are integers, not {text!r}") from None

    def pages(self, size: int, after: PankoId | None = None) -> Iterator[list[PankoEvent]]:
        """Events in pages of ``size``, by Panko id, starting after id ``after``."""
        columns = (
            EVENT.c.id,
            EVENT.c.message_id,
            EVENT_TYPE.c.desc,
            EVENT.c.generated,
            EVENT.c.raw,
        )
        while True:
            query = self._selected(*columns).order_by(EVENT.c.id).limit(size)
            if after is not None:
                query = query.where(EVENT.c.id > after)
            with translated_errors(self.action), self.engine.connect() as conn:
                rows = conn.execute(query).all()
                traits = self._traits(conn, [row[0] for row in rows])
            if not rows:
                return
            yield [
                PankoEvent(panko_id, message_id, kind, generated, raw, traits[panko_id])
                for panko_id, message_id, kind, generated, raw in rows
            ]
            after = rows[-1][0]

    @staticmethod
    def _traits(conn: sa.Connection, ids: Sequence[int]) -> dict[int, list[tuple[str, int, Any]]]:
        """The traits of the events ``ids`` (ascending), by event id."""
        found: dict[int, list[tuple[str, int, Any]]] = {event_id: [] for event_id in ids}
        if not ids:
            return found
        scan = _scans(ids)
        tables: Iterator[Sequence[Any]]
        raw = conn.connection.driver_connection
        if isinstance(raw, sqlite3.Connection):  # a file read with this process's CPU
            tables = panko_sqlite.trait_rows(raw, ids, scan)
        else:
            tables = _trait_rows(conn, ids, scan)
        for rows in tables:
            # Rows come in runs of one event (the order is only for speed:
            # any order groups right). groupby and map run in C, so no Python
            # code runs per trait; a page has some 15 traits per event.
            for event_id, run in itertools.groupby(rows, _EVENT_ID):
                traits = found.get(event_id)
                if traits is not None:  # None: in the id range, but not selected
                    traits.extend(map(_TRAIT, run))
        return found


def _trait_rows(conn: sa.Connection, ids: Sequence[int], scan: bool) -> Iterator[Sequence[Any]]:
    """Each trait table's ``(event_id, key, dtype, value)`` rows of ``ids``, through
    SQLAlchemy (see :func:`.panko_sqlite.trait_rows` for ``scan``)."""
    for dtype, table in TRAIT_TABLES.items():
        column = table.c.event_id
        covering = column.between(ids[0], ids[-1]) if scan else column.in_(ids)
        query = (
            sa.select(column, table.c.key, sa.literal_column(str(dtype)), table.c.value)
            .where(covering)
            .order_by(column)
        )
        yield conn.execute(query).all()


_EVENT_ID = operator.itemgetter(0)
#: (name, dtype, value) of a row selected by PankoReader._traits.
_TRAIT = operator.itemgetter(1, 2, 3)
#: Range scans read at most this many times as many events as a page holds.
_RANGE_SPREAD = 2


def _scans(ids: Sequence[int]) -> bool:
    """Whether a page's traits are read with a range scan of the ids ``ids`` (ascending).

    Most pages hold consecutive ids (no filter, or one that keeps whole
    runs): one range scan of each trait table's primary key, much cheaper for
    every database than an ``IN`` of a thousand parameters. Ids spread
    wider (a selective filter) keep the ``IN``, so a page never reads more
    than twice its own traits.
    """
    return ids[-1] - ids[0] < _RANGE_SPREAD * len(ids)


def raw_of(text: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Panko's ``raw`` as pipeline keeps it: None when empty (``{}``: not kept).

    Takes the JSON text of the SQL column or the object of a MongoDB
    document. Raises ValueError for text that is not a JSON object.
    """
    if isinstance(text, dict):
        return text or None
    if text is None or text in ("", "{}"):
        return None
    try:
        value = json.loads(text)
    except ValueError as err:
        raise ValueError(f"raw is not JSON: {err}") from None
    if not isinstance(value, dict):
        # ValueError, not TypeError: every reason to refuse an event is one.
        raise ValueError(f"raw is not a JSON object but {type(value).__name__}")  # noqa: TRY004
    return value or None
