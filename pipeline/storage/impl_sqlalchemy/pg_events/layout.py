"""Which event layout a PostgreSQL database has: this package's, or the one before 0005.

Code of this version may meet a database that ``pipeline dbsync`` has not
migrated yet (revision 0004 or older: ``event`` is a plain table with a
table per trait type). Until it is migrated the driver serves it with the
SQL driver's own event code, as the previous version did; after, with this
package's. :func:`layout_aware` makes a method choose, and switch when
another process migrates the database under it: the code of the layout it
knew then fails on the other's tables, the layout is looked up again, and
the call is made once more the other way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from pipeline.exceptions import StorageError
from pipeline.storage.impl_sqlalchemy import engine as engines

_F = TypeVar("_F", bound=Callable[..., Any])
_KIND = sa.text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass('event')")


class Layout:
    """Whether ``event`` is partitioned (this layout), as this process last saw it."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._partitioned: bool | None = None

    def partitioned(self) -> bool:
        """True for this layout, and for a database without tables yet (upgrade makes it).

        No tables is not remembered: the next look may find either layout.
        """
        if self._partitioned is not None:
            return self._partitioned
        with engines.translated_errors("read the event layout"), self.engine.connect() as conn:
            kind = conn.execute(_KIND).scalar()
        if kind is not None:
            self._partitioned = kind != "r"
        return kind != "r"

    def changed(self) -> bool:
        """Look again; True when the layout is not what it was."""
        before, self._partitioned = self._partitioned, None
        return self.partitioned() != before


def layout_aware(method: _F) -> _F:
    """``method`` on this layout; the SQL driver's method of that name on the previous one.

    The instance needs ``_layout()`` returning its :class:`Layout`; the SQL
    driver's method is the next one in the method resolution order.
    """
    name = method.__name__

    @functools.wraps(method)
    def choose(self: Any, *args: Any, **kwargs: Any) -> Any:
        layout: Layout = self._layout()
        for attempt in (1, 2):
            if layout.partitioned():
                call = functools.partial(method, self)
            else:
                call = getattr(super(_owner(self, method), self), name)
            try:
                return call(*args, **kwargs)
            except StorageError:
                if attempt == 2 or not layout.changed():
                    raise
        raise AssertionError("unreachable")

    return cast(_F, choose)


def _owner(instance: Any, method: Callable[..., Any]) -> type:
    """The class in ``instance``'s MRO that defines ``method`` (to call past it)."""
    for klass in type(instance).__mro__:
        found = klass.__dict__.get(method.__name__)
        if getattr(found, "__wrapped__", None) is method:
            return klass
    raise TypeError(f"{method.__qualname__} is not a method of {type(instance).__name__}")
