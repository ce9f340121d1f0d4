"""Tables of the SQLAlchemy driver (Panko's event tables, typed for fidelity).

One :data:`metadata` holds every table; migrations under ``migrations/``
create them and a test checks the two agree. Column choices and why:

* integers are 64-bit (``BIGINT``), floats are ``DOUBLE``, text is unbounded
  (Panko cut it at 255 characters);
* datetimes are stored as naive UTC with microseconds (``DATETIME(6)`` on
  MySQL) and read back as aware UTC (:class:`UTCDateTime`). SQLite has no
  datetime type: it keeps text in exactly one form,
  :data:`SQLITE_DATETIME_FORMAT`, so comparing the text compares the
  instants. Every write and every filter must bind through the dialect's
  processing of :class:`UTCDateTime` (migration 0003 rewrote rows that
  did not);
* every name and text value compares by code point, as Python does, so every
  driver orders and matches the same way: ``COLLATE "C"`` on PostgreSQL, a
  binary no-pad collation on MySQL/MariaDB (chosen at migration time), SQLite
  compares bytes already;
* ``event.raw`` is JSON text;
* trait tables have no foreign key to ``event``: the writer inserts trait
  rows only for event ids the same transaction just inserted, and deletes
  remove traits explicitly. The per-row foreign key check cost about a third
  of the write throughput on PostgreSQL (benchmarks/README.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect

from pipeline.models import UTC, Trait, to_utc
from pipeline.storage.limits import NAME_LENGTH  # every driver's limit: the columns' size

#: PostgreSQL indexes this many leading characters of text trait values
#: (a btree entry must stay under ~2.7 kB); MySQL uses a prefix index.
TEXT_INDEX_PREFIX = 200
MYSQL_DIALECTS = ("mysql", "mariadb")
#: The one text form of a datetime on SQLite: naive UTC, always six fraction
#: digits (``2024-03-01 07:00:00.000000``), so text order is time order.
SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, naive UTC with microseconds stored, aware UTC out."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "sqlite":
            # SQLAlchemy's default form today; stated so that it cannot drift.
            return dialect.type_descriptor(sqlite.DATETIME(storage_format=SQLITE_DATETIME_FORMAT))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else to_utc(value).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def name_type() -> sa.types.TypeEngine[str]:
    """Short text compared by code point (message ids, type and trait names)."""
    return sa.String(NAME_LENGTH).with_variant(
        postgresql.VARCHAR(NAME_LENGTH, collation="C"), "postgresql"
    )


def text_type() -> sa.types.TypeEngine[str]:
    """Unbounded text compared by code point (text trait values)."""
    return (
        sa.Text()
        .with_variant(postgresql.TEXT(collation="C"), "postgresql")
        .with_variant(mysql.MEDIUMTEXT(), *MYSQL_DIALECTS)
    )


def raw_type() -> sa.types.TypeEngine[str]:
    """JSON text of a whole notification."""
    return sa.Text().with_variant(mysql.LONGTEXT(), *MYSQL_DIALECTS)


def id_type() -> sa.types.TypeEngine[int]:
    """64-bit surrogate keys (SQLite's INTEGER PRIMARY KEY is already 64-bit)."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def table_options(bind: sa.engine.Connection) -> dict[str, Any]:
    """Keyword options for ``op.create_table`` on ``bind``'s database.

    On MySQL/MariaDB: InnoDB, utf8mb4 and a binary collation that does not
    ignore trailing spaces when the server has one, so ``'a' != 'a '``.
    """
    dialect = bind.dialect
    if dialect.name not in MYSQL_DIALECTS:
        return {}
    version = dialect.server_version_info or (0,)
    if getattr(dialect, "is_mariadb", False):
        collation = "utf8mb4_nopad_bin" if version >= (10, 2) else "utf8mb4_bin"
    else:
        collation = "utf8mb4_0900_bin" if version >= (8,) else "utf8mb4_bin"
    # SQLAlchemy reads only the options prefixed with the dialect's own name.
    prefix = dialect.name
    return {
        f"{prefix}_engine": "InnoDB",
        f"{prefix}_charset": "utf8mb4",
        f"{prefix}_collate": collation,
    }


def _only_on(*names: str) -> Any:
    def check(_ddl: object, _target: object, _bind: object, **kw: Any) -> bool:
        return bool(kw["dialect"].name in names)

    return check


def _not_on(*names: str) -> Any:
    def check(_ddl: object, _target: object, _bind: object, **kw: Any) -> bool:
        return bool(kw["dialect"].name not in names)

    return check


metadata = sa.MetaData()

event_type = sa.Table(
    "event_type",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("desc", name_type(), nullable=False),
    sa.UniqueConstraint("desc", name="uq_event_type_desc"),
)

event = sa.Table(
    "event",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("message_id", name_type(), nullable=False),
    sa.Column("generated", UTCDateTime(), nullable=False),
    sa.Column(
        "event_type_id",
        sa.Integer,
        sa.ForeignKey("event_type.id", name="fk_event_event_type_id"),
        nullable=False,
    ),
    sa.Column("raw", raw_type(), nullable=True),
    sa.UniqueConstraint("message_id", name="uq_event_message_id"),
    sa.Index("ix_event_type_generated", "event_type_id", "generated"),
    sa.Index("ix_event_generated_message_id", "generated", "message_id"),
)


def _trait_table(name: str, value_type: sa.types.TypeEngine[Any]) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("event_id", id_type(), primary_key=True),
        sa.Column("key", name_type(), primary_key=True),
        sa.Column("value", value_type, nullable=False),
        # SQLite: the primary key is the table, saving one b-tree per row.
        sqlite_with_rowid=False,
    )


trait_text = _trait_table("trait_text", text_type())
trait_int = _trait_table("trait_int", sa.BigInteger())
trait_float = _trait_table("trait_float", sa.Double())
trait_datetime = _trait_table("trait_datetime", UTCDateTime())

# Text values are unbounded, so the key/value index is a prefix index where
# the database limits entry size (MySQL and PostgreSQL).
sa.Index(
    "ix_trait_text_key_value",
    trait_text.c.key,
    trait_text.c.value,
    mysql_length={"value": 255},
    mariadb_length={"value": 255},  # SQLAlchemy reads only its own prefix
).ddl_if(callable_=_not_on("postgresql"))
sa.Index(
    "ix_trait_text_key_value_prefix",
    trait_text.c.key,
    sa.func.substr(trait_text.c.value, 1, TEXT_INDEX_PREFIX),
).ddl_if(callable_=_only_on("postgresql"))
for _table in (trait_int, trait_float, trait_datetime):
    sa.Index(f"ix_{_table.name}_key_value", _table.c.key, _table.c.value)

#: Trait table by dtype.
TRAIT_TABLES: dict[int, sa.Table] = {
    Trait.TEXT_TYPE: trait_text,
    Trait.INT_TYPE: trait_int,
    Trait.FLOAT_TYPE: trait_float,
    Trait.DATETIME_TYPE: trait_datetime,
}
