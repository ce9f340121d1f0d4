"""The database an importer reads: an SQLAlchemy engine that never writes.

URLs take pipeline's forms (a bare ``postgresql://`` uses psycopg 3, a bare
``mysql://`` PyMySQL; see :mod:`pipeline.storage.impl_sqlalchemy.engine`).
The source is only read: an SQLite file is opened read-only (a missing file
is an error, not a new empty database), and no schema is created.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import exc

from pipeline.exceptions import ConfigError, MissingExtra
from pipeline.storage.base import dress_url
from pipeline.storage.impl_sqlalchemy.engine import normalise_url, translated_errors

_EXTRAS = {"psycopg": ("psycopg", "postgresql"), "pymysql": ("PyMySQL", "mysql")}


def open_source(url: str) -> sa.Engine:
    """An engine reading the database at ``url`` (see the module docstring)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not os.path.isfile(path):
            raise ConfigError(f"no SQLite database file at {dress_url(url)!r}")
        # Read-only through SQLite's URI form: the source file stays as it was.
        parsed = parsed.set(database=f"file:{urllib.parse.quote(path)}").update_query_dict(
            {"mode": "ro", "uri": "true"}
        )
    try:
        return sa.create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    except ImportError as err:
        package, extra = _EXTRAS.get(parsed.get_driver_name(), (str(err.name), "test"))
        raise MissingExtra(package, extra) from err
    except exc.NoSuchModuleError as err:
        raise ConfigError(f"source URL {dress_url(url)!r}: {err}") from None


def require_tables(engine: sa.Engine, names: Iterable[str], what: str, url: str) -> None:
    """Raise :class:`ConfigError` unless every table of ``names`` exists."""
    with translated_errors(f"reading {dress_url(url)}"):
        present = set(sa.inspect(engine).get_table_names())
    missing = sorted(set(names) - present)
    if missing:
        raise ConfigError(
            f"{dress_url(url)} has no {what} tables {', '.join(missing)} "
            f"(found: {', '.join(sorted(present)) or 'none'})"
        )
