"""One exception hierarchy for the whole project.

The consumer decides what to do with a message from the exception class
alone: :class:`DecodeError`/:class:`ConversionError` dead-letter it,
:class:`StorageUnavailable` requeues the batch with back-off.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error pipeline raises on purpose."""


class ConfigError(PipelineError):
    """The configuration (options or definition files) is invalid."""


class DecodeError(PipelineError, ValueError):
    """A message body is not a notification or log record we understand."""


class NotANotification(DecodeError):
    """A message body is a JSON object, but not a notification (or log record).

    Counted apart from bodies that do not parse at all (dead-letter reason
    class ``not_a_notification``); the consumer treats both alike.
    """


class ConversionError(PipelineError, ValueError):
    """A decoded message could not be turned into an event or ticket."""


class DefinitionError(ConfigError):
    """An event definitions file is invalid; the message gives file:line:col."""


class StorageError(PipelineError):
    """Base of storage errors."""


class StorageUnavailable(StorageError):
    """The database cannot be reached right now (refused, timeout, deadlock).

    Transient by nature: the caller may retry the same operation later.
    """


class UnknownDriver(StorageError, ConfigError):
    """No installed storage driver handles the URL's scheme."""


class MissingExtra(StorageError, ConfigError):
    """A driver's optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'pipeline[{extra}]'"
        )
        self.package = package
        self.extra = extra


class MissingCapability(StorageError, ConfigError):
    """A driver lacks a capability the caller requires."""


class InvalidQuery(StorageError, ValueError):
    """A filter, sort key or pagination request is malformed."""


class InvalidMarker(InvalidQuery):
    """The pagination marker names no stored event."""


class NotFound(StorageError, LookupError):
    """Base of 'no such item' errors."""


class EventNotFound(NotFound):
    """No event has the given message_id."""


class TicketNotFound(NotFound):
    """No ticket has the given id."""
