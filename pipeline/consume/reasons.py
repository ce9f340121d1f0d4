"""Why a message was dead-lettered: the reason text and its class.

A dead letter carries its reason as text (the ``x-pipeline-reason``
header); :class:`Reason` is that text, still a ``str``, plus the class of
the reason for counting (``pipeline_messages_dead_lettered_total{reason}``).
The class is decided by exception class alone, where the reason arises:

* ``undecodable`` — :class:`~pipeline.exceptions.DecodeError`: the body is not
  JSON (or not UTF-8, or not a JSON object);
* ``not_a_notification`` — :class:`~pipeline.exceptions.NotANotification`: a JSON
  object, but not a notification (or, on the log record queue, not a log record);
* ``conversion`` — :class:`~pipeline.exceptions.ConversionError`: decoded, but
  it could not become an event or a ticket record;
* ``storage_refused`` — the storage driver refused the record (an invalid
  trait, a ticket record it cannot hold, or a message it kept failing on);
* ``unexpected`` — a converter raised something else (a bug; logged with its
  traceback).
"""

from __future__ import annotations

from typing import Final, Self

from pipeline.exceptions import ConversionError, DecodeError, NotANotification

UNDECODABLE: Final = "undecodable"
NOT_A_NOTIFICATION: Final = "not_a_notification"
CONVERSION: Final = "conversion"
STORAGE_REFUSED: Final = "storage_refused"
UNEXPECTED: Final = "unexpected"
#: Every class, in the order the documentation lists them.
KINDS: Final = (UNDECODABLE, NOT_A_NOTIFICATION, CONVERSION, STORAGE_REFUSED, UNEXPECTED)


class Reason(str):
    """A dead letter's reason text; ``kind`` is its class (one of :data:`KINDS`)."""

    kind: str

    def __new__(cls, text: str, kind: str) -> Self:
        reason = super().__new__(cls, text)
        reason.kind = kind
        return reason


def of_error(err: BaseException) -> Reason:
    """The reason for a message whose decoding or conversion raised ``err``."""
    # The text keeps the one "DecodeError: " prefix for both decode classes:
    # consumers of the dead-letter queue match on it.
    if isinstance(err, NotANotification):
        return Reason(f"DecodeError: {err}", NOT_A_NOTIFICATION)
    if isinstance(err, DecodeError):
        return Reason(f"DecodeError: {err}", UNDECODABLE)
    if isinstance(err, ConversionError):
        return Reason(f"{type(err).__name__}: {err}", CONVERSION)
    return Reason(f"unexpected {type(err).__name__}: {err}", UNEXPECTED)


def refused(text: str) -> Reason:
    """The reason for a record the storage refused."""
    return Reason(text, STORAGE_REFUSED)


def kind_of(reason: str) -> str:
    """The class of ``reason``; a plain string (from elsewhere) is ``unexpected``."""
    return getattr(reason, "kind", UNEXPECTED)
