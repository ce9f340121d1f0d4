"""The text every storage driver accepts, stated once for events, tickets and queries.

Every driver must accept and refuse exactly the same values. The databases
differ: PostgreSQL text cannot hold NUL; no SQL database (and no BSON
string) holds a surrogate code point, which is what a JSON ``"\\ud800"``
escape in a notification decodes to and UTF-8 cannot encode; the SQL
columns for names hold 255 characters; MongoDB stores documents of up to
16 MiB and MariaDB statements of up to its ``max_allowed_packet`` (16 MiB by
default). So the shared validation, above the drivers, refuses:

* NUL (U+0000) and surrogates (U+D800-U+DFFF) in any text that is stored or
  compared: message ids, event types, trait names, text trait values, ticket
  fields and filter values (JSON data such as ``raw`` or ticket data keeps
  them: JSON text escapes both);
* message ids, event types and trait names longer than :data:`NAME_LENGTH`
  characters;
* events whose text (message id, event type, trait names and text values)
  adds up to more than :data:`MAX_EVENT_TEXT_BYTES` bytes of UTF-8, and
  ticket records whose data takes more than :data:`MAX_TICKET_DATA_BYTES`
  as JSON: this leaves room for the raw notification in MongoDB's 16 MiB
  document and fits MariaDB's default packet even with every character
  escaped.

:func:`check_event_text` applies them to an event (for
:meth:`~pipeline.storage.base.Connection.record_events`); ticket records
(:mod:`.ticket_batch`) and queries (:mod:`.query`) use :func:`text_problem`.
The checks are O(length) and nearly free for ASCII text.
"""

from __future__ import annotations

import operator
import re

from pipeline.models import Event, Trait

#: Longest message id, event type and trait name, in characters (the SQL column size).
NAME_LENGTH = 255
#: Most UTF-8 bytes of text one event may carry (see the module docstring).
MAX_EVENT_TEXT_BYTES = 4 * 1024 * 1024
#: Most UTF-8 bytes of JSON the data of one ticket record may take, for the same reasons.
MAX_TICKET_DATA_BYTES = 4 * 1024 * 1024

NUL_PROBLEM = "contains a NUL character (U+0000)"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_problem(text: str) -> str | None:
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return (
        f"contains U+{ord(found.group()):04X}, a lone surrogate: "
        "not Unicode text (UTF-8 cannot encode it)"
    )


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or compared by every driver, or None.

    The answer completes a sentence whose subject names the value
    (``"channel " + problem``).
    """
    if "\x00" in text:
        return NUL_PROBLEM
    if text.isascii():  # O(1): CPython flags ASCII strings
        return None
    return _surrogate_problem(text)


def name_problem(text: str) -> str | None:
    """:func:`text_problem`, plus the :data:`NAME_LENGTH` limit."""
    if len(text) > NAME_LENGTH:
        return f"is longer than {NAME_LENGTH} characters"
    return text_problem(text)


def utf8_size(text: str) -> int | None:
    """Bytes of ``text`` in UTF-8; None when it holds a surrogate, which UTF-8 cannot encode.

    For text that may hold them legitimately, escaped: the JSON of ``raw``
    and of ticket data. Encoding is a faster scan than a regular expression.
    """
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def check_event_text(event: Event) -> None:
    """Raise ValueError when the text of an event breaks a rule (see the module docstring).

    ``event`` has its traits converted already (text values are ``str``).

    Every event pays for a few scans of its text joined in one string (C
    loops, O(1) for the ASCII test, one UTF-8 encoding otherwise); only an
    event that fails them is gone through field by field for the reason.
    """
    traits = event.traits
    texts = [event.message_id, event.event_type, *map(_BY_NAME, traits)]
    longest_name = max(map(len, texts))
    texts += [trait.value for trait in traits if trait.dtype == _TEXT]
    joined = "".join(texts)
    if longest_name <= NAME_LENGTH and "\x00" not in joined:
        if joined.isascii():
            if len(joined) <= MAX_EVENT_TEXT_BYTES:
                return
        else:
            try:
                if len(joined.encode("utf-8")) <= MAX_EVENT_TEXT_BYTES:
                    return
            except UnicodeEncodeError:  # a surrogate somewhere: found below
                pass
    _explain_text(event)


def _explain_text(event: Event) -> None:
    """Raise the ValueError saying which text of ``event`` breaks which rule."""
    _refuse("message_id", name_problem(event.message_id))
    _refuse("event_type", name_problem(event.event_type))
    texts = [event.message_id, event.event_type]
    for trait in event.traits:
        shown = repr(trait.name) if len(trait.name) <= 40 else f"{trait.name[:40]!r}..."
        _refuse(f"trait name {shown}", name_problem(trait.name))
        texts.append(trait.name)
        if trait.dtype == _TEXT:
            _refuse(f"trait {shown} value", text_problem(trait.value))
            texts.append(trait.value)
    size = sum(len(text.encode("utf-8")) for text in texts)
    raise ValueError(
        f"the event's text is {size} bytes of UTF-8, more than the "
        f"{MAX_EVENT_TEXT_BYTES} an event may hold"
    )


def _refuse(what: str, problem: str | None) -> None:
    if problem is not None:
        raise ValueError(f"{what} {problem}")


_TEXT = Trait.TEXT_TYPE
_BY_NAME = operator.attrgetter("name")
