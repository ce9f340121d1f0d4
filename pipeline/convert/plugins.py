"""Trait plugins: compute a trait's value from the matches of its fields.

A trait definition may name a plugin (``plugin: split`` or ``plugin: {name:
split, parameters: {...}}``). Plugins are classes registered in the
``pipeline.trait_plugin`` entry point group, so a third party adds one by
declaring an entry point, nothing else. The class is instantiated once, when
the definitions are loaded, with ``parameters`` as keyword arguments; a
constructor that rejects them (``TypeError``/``ValueError``) makes the
definitions invalid.

At conversion time :meth:`TraitPluginBase.trait_values` receives every
non-null match of the trait's fields, in field order, as ``(path, value)``
pairs (``path`` is the dotted path that matched, e.g. ``payload.state``), and
returns a list of values; the first one (if any, and not ``None``) becomes the
trait's value, converted to the trait's type. This is Ceilometer's plugin
contract, so Ceilometer plugins port by changing the base class.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.models import parse_datetime

Match = tuple[str, Any]


class TraitPluginBase(abc.ABC):
    """Base of trait plugins; subclasses take their parameters as keywords."""

    def __init__(self, **parameters: Any) -> None:
        if parameters:
            names = ", ".join(sorted(parameters))
            raise TypeError(f"unexpected parameters: {names}")

    @abc.abstractmethod
    def trait_values(self, match_list: Sequence[Match]) -> list[Any]:
        """Return trait values computed from ``(path, value)`` matches.

        Only the first value is used by the converter. Return ``[]`` or
        ``[None]`` for "no value": the trait is then left out of the event.
        """


class SplitterTraitPlugin(TraitPluginBase):
    """Split a text value and keep one segment.

    ``separator`` (default ``.``), ``segment`` (index into the parts,
    negative counts from the end; default 0) and ``max_split`` (at most this
    many splits, default unlimited). A value that is not text, or has no such
    segment, yields nothing. Example: ``publisher_id`` ``compute.host-1``
    with ``segment: 1, max_split: 1`` gives ``host-1``.
    """

    def __init__(
        self, separator: str = ".", segment: int = 0, max_split: int | None = None
    ) -> None:
        super().__init__()
        if not isinstance(separator, str) or not separator:
            raise ValueError("separator must be a non-empty string")
        if isinstance(segment, bool) or not isinstance(segment, int):
            raise TypeError("segment must be an integer")
        if max_split is not None and (
            isinstance(max_split, bool) or not isinstance(max_split, int)
        ):
            raise TypeError("max_split must be an integer")
        self.separator = separator
        self.segment = segment
        self.max_split = -1 if max_split is None else max_split

    def trait_values(self, match_list: Sequence[Match]) -> list[Any]:
        """One segment per match (``None`` where the match has none)."""
        return [self._segment(value) for _path, value in match_list]

    def _segment(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        parts = value.split(self.separator, self.max_split)
        try:
            return parts[self.segment]
        except IndexError:
            return None


class BitfieldTraitPlugin(TraitPluginBase):
    """Build an integer whose bits say which fields were present.

    ``initial_bitfield`` (default 0) and ``flags``: a list of ``{path, bit}``
    with an optional ``value``. A flag sets bit ``bit`` when a field matched
    at ``path`` (exactly the dotted path, as listed in the trait's
    ``fields``), and, when ``value`` is given, only if the match equals it.
    """

    def __init__(
        self, initial_bitfield: int = 0, flags: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        super().__init__()
        if isinstance(initial_bitfield, bool) or not isinstance(initial_bitfield, int):
            raise TypeError("initial_bitfield must be an integer")
        self.initial_bitfield = initial_bitfield
        self.flags: list[tuple[str, int, bool, Any]] = []
        for flag in flags or ():
            self.flags.append(self._flag(flag))

    @staticmethod
    def _flag(flag: Any) -> tuple[str, int, bool, Any]:
        if not isinstance(flag, Mapping):
            raise TypeError(f"a flag must be a mapping with path and bit, not {flag!r}")
        unknown = set(flag) - {"path", "bit", "value"}
        if unknown:
            raise ValueError(f"unknown flag keys: {', '.join(sorted(map(str, unknown)))}")
        path, bit = flag.get("path"), flag.get("bit")
        if not isinstance(path, str):
            raise TypeError(f"flag path must be a string, not {path!r}")
        if isinstance(bit, bool) or not isinstance(bit, int) or not 0 <= bit < 63:
            raise ValueError(f"flag bit must be an integer 0..62, not {bit!r}")
        return path, 1 << bit, "value" in flag, flag.get("value")

    def trait_values(self, match_list: Sequence[Match]) -> list[Any]:
        """The bitfield, as a one-element list."""
        matches = dict(match_list)
        bitfield = self.initial_bitfield
        for path, bit, has_value, expected in self.flags:
            if path in matches and (not has_value or matches[path] == expected):
                bitfield |= bit
        return [bitfield]


class TimedeltaPlugin(TraitPluginBase):
    """Seconds between two datetime fields (absolute value, float).

    The trait must match exactly two values (e.g. ``fields: [payload.
    created_at, payload.launched_at]``); otherwise, or when one is not a
    datetime, there is no value.
    """

    def trait_values(self, match_list: Sequence[Match]) -> list[Any]:
        """``[seconds]``, or ``[]`` when the two datetimes are not there."""
        if len(match_list) != 2:
            return []
        try:
            start = parse_datetime(match_list[0][1])
            end = parse_datetime(match_list[1][1])
        except (ValueError, OverflowError):
            return []
        delta: dt.timedelta = end - start
        return [abs(delta.total_seconds())]


class MapTraitPlugin(TraitPluginBase):
    """Map values through a table.

    ``values`` (required, a non-empty mapping), ``default`` (the value for
    anything not in the table; default ``None``, which leaves the trait out)
    and ``case_sensitive`` (default true; when false, text keys and text
    values are compared in lower case).
    """

    def __init__(
        self,
        values: Mapping[Any, Any] | None = None,
        default: Any = None,
        case_sensitive: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(values, Mapping) or not values:
            raise ValueError("values must be a non-empty mapping")
        if not isinstance(case_sensitive, bool):
            raise TypeError("case_sensitive must be true or false")
        self.case_sensitive = case_sensitive
        self.default = default
        self.values = {self._key(key): value for key, value in values.items()}

    def _key(self, key: Any) -> Any:
        if not self.case_sensitive and isinstance(key, str):
            return key.lower()
        return key

    def trait_values(self, match_list: Sequence[Match]) -> list[Any]:
        """One mapped value per match."""
        result = []
        for _path, value in match_list:
            try:
                result.append(self.values.get(self._key(value), self.default))
            except TypeError:  # unhashable match (a list or dict): not in the table
                result.append(self.default)
        return result
