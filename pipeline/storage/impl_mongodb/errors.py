"""pymongo errors translated into pipeline's own, at the driver boundary.

Network-level failures (no server selectable, connection reset, timeouts,
primary stepped down) are transient: they become
:class:`~pipeline.exceptions.StorageUnavailable` so the consumer requeues.
Everything else pymongo raises becomes :class:`~pipeline.exceptions.StorageError`,
and a value BSON cannot hold (text with lone surrogates, an integer beyond
64 bits) becomes the error class the caller names: :class:`InvalidQuery` for
reads, :class:`StorageError` for writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import bson
from pymongo import errors

from pipeline.exceptions import StorageError, StorageUnavailable

#: Server error code of a unique index violation.
DUPLICATE_KEY = 11000


@contextlib.contextmanager
def translated(action: str, unencodable: type[StorageError] = StorageError) -> Iterator[None]:
    """Run the block, re-raising pymongo errors as pipeline storage errors.

    ``action`` says what was being done, for the message; ``unencodable`` is
    raised for input that cannot be encoded as BSON.
    """
    try:
        yield
    except (bson.errors.BSONError, UnicodeEncodeError, OverflowError) as err:
        raise unencodable(f"cannot be stored or queried in MongoDB while {action}: {err}") from err
    except errors.ConnectionFailure as err:
        # ServerSelectionTimeoutError, AutoReconnect, NetworkTimeout and
        # NotPrimaryError all derive from ConnectionFailure.
        raise StorageUnavailable(f"MongoDB unavailable while {action}: {err}") from err
    except errors.PyMongoError as err:
        raise StorageError(f"MongoDB error while {action}: {err}") from err
