"""What a queued ``TicketingHandler`` remembers per call site: its ticket fields.

A process logs from a bounded set of places, and under the ``location``
and ``logbook`` strategies everything a record's ticket fields depend on
comes from its place: the grouping key (:func:`~pipeline.convert.grouping.
grouping_hash`), the portable ``file:line`` location and the module. The
writer thread computes them once per call site and finds them again for
every later record of that site, in one dictionary lookup instead of
normalising a path, joining the fields and hashing them (half the writer's
Python work per record of a grouping-heavy burst).

Only records whose site fields are plain values are remembered (text or
None, integer level and line): two equal keys then group identically,
whatever the strategy reads of them. A record carrying a ``fingerprint``,
the ``template`` strategy (which reads the message) and anything unusual
take the uncached path. The table is emptied once it holds
:data:`MAX_SITES` entries, so a program that logs from generated code
cannot grow it without bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.convert.grouping import grouping_hash, portable_path
from pipeline.exceptions import StorageError

#: Entries kept before the table is emptied (a few hundred sites is typical).
MAX_SITES = 4096
#: Strategies whose key depends on a record's site fields only.
_SITE_STRATEGIES = frozenset(("location", "logbook"))
_PLAIN_TEXT = (str, type(None))


class SiteFields:
    """``(record_hash, location, module)`` of records by call site (see the module docstring).

    ``salt`` and ``strategy`` are fixed for the table's life: the handler
    makes a new table when it changes either.
    """

    def __init__(self, salt: str | None, strategy: str) -> None:
        self.salt, self.strategy = salt, strategy
        self.cached = strategy in _SITE_STRATEGIES
        self._sites: dict[tuple[Any, ...], tuple[str, str, str]] = {}

    def of(self, data: Mapping[str, Any]) -> tuple[str, str, str]:
        """The grouping key, ``file:line`` location and module of the record ``data``.

        ``data`` is a logbook-shaped dict (``record_dict``). Raises
        :class:`~pipeline.exceptions.ConversionError` for a record that cannot
        be grouped and :class:`StorageError` for a level that is not an integer,
        as the uncached path does.
        """
        site = self._site(data) if self.cached else None
        if site is None:
            return self._compute(data)
        found = self._sites.get(site)
        if found is None:
            if len(self._sites) >= MAX_SITES:
                self._sites.clear()
            found = self._sites[site] = self._compute(data)
        return found

    @staticmethod
    def _site(data: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The site fields of ``data`` as a key, or None when they must not be cached."""
        extra = data.get("extra")
        if extra and isinstance(extra, Mapping) and extra.get("fingerprint") is not None:
            return None
        site = (
            data.get("channel"),
            data.get("level"),
            data.get("filename"),
            data.get("module"),
            data.get("func_name"),
            data.get("lineno"),
        )
        channel, level, filename, module, func_name, lineno = site
        # type() checks: True == 1 and 1.0 == 1 as keys, but they do not group alike.
        if (
            type(level) is int
            and (lineno is None or type(lineno) is int)
            and type(channel) in _PLAIN_TEXT
            and type(filename) in _PLAIN_TEXT
            and type(module) in _PLAIN_TEXT
            and type(func_name) in _PLAIN_TEXT
        ):
            return site
        return None

    def _compute(self, data: Mapping[str, Any]) -> tuple[str, str, str]:
        key = grouping_hash(data, self.salt, self.strategy).hexdigest()
        return (key, *ticket_fields(data))


def ticket_fields(data: Mapping[str, Any]) -> tuple[str, str]:
    """The ``file:line`` location (portable path) and module of the record ``data``.

    Raises :class:`StorageError` when its level is not an integer.
    """
    level = data["level"]
    if isinstance(level, bool) or not isinstance(level, int):
        raise StorageError(f"record cannot be stored: level must be an integer, got {level!r}")
    module = data.get("module")
    filename = portable_path(str(data.get("filename") or ""), module)
    return f"{filename}:{data.get('lineno') or 0}", str(module) if module else "<unknown>"
