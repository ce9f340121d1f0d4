"""pymongo errors translated into pipeline's own, at the driver boundary.

Network-level failures (no server selectable, connection reset, timeouts,
primary stepped down) are transient: they become
:class:`~pipeline.exceptions.StorageUnavailable` so the consumer requeues.
Everything else pymongo raises becomes :class:`~pipeline.exceptions.StorageError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pymongo import errors

from pipeline.exceptions import StorageError, StorageUnavailable

#: Server error code of a unique index violation.
DUPLICATE_KEY = 11000


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Run the block, re-raising pymongo errors as pipeline storage errors.

    ``action`` says what was being done, for the message.
    """
    try:
        yield
    except errors.ConnectionFailure as err:
        # ServerSelectionTimeoutError, AutoReconnect, NetworkTimeout and
        # NotPrimaryError all derive from ConnectionFailure.
        raise StorageUnavailable(f"MongoDB unavailable while {action}: {err}") from err
    except errors.PyMongoError as err:
        raise StorageError(f"MongoDB error while {action}: {err}") from err
