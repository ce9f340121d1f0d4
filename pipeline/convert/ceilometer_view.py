"""Ceilometer's names for the parts of a notification: ``ctxt`` and ``metadata``.

Ceilometer's notification agent hands its event converter the notification
as oslo.messaging's listener rebuilds it: ``ctxt`` (the request context),
``publisher_id``, ``event_type``, ``priority``, ``payload`` and ``metadata``
(``message_id``, ``timestamp``). Its definitions read the context as
``ctxt.<key>``. On the wire, oslo.messaging's rabbit driver flattens the
context into ``_context_<key>`` keys of the message, in the v1 form and
inside the v2 envelope's ``oslo.message`` alike, and that flat dict is what
:func:`~pipeline.convert.envelope.decode_notification` returns.

This module gives the Ceilometer names over that dict without copying it:

- ``ctxt``: every ``_context_<key>`` as ``<key>``, over a top-level ``ctxt``
  dict when the publisher sent one (a ``_context_`` key wins);
- ``metadata``: ``message_id`` and ``timestamp`` (the decoded aware UTC
  datetime, not oslo's text), over a top-level ``metadata`` dict when the
  publisher sent one.

Field paths resolve ``ctxt.<key>…`` and ``metadata.message_id`` /
``metadata.timestamp`` with direct lookups (:mod:`pipeline.convert.paths`);
:func:`ceilometer_view` builds the whole view only for the rare JSONPath
expressions (filters, wildcards) that name ``ctxt`` or ``metadata``.
"""

from __future__ import annotations

import re
from typing import Any

#: The name Ceilometer gives the request context, and the wire prefix of its keys.
CONTEXT = "ctxt"
CONTEXT_PREFIX = "_context_"
#: The name Ceilometer gives the message metadata, and the keys it holds.
METADATA = "metadata"
METADATA_KEYS = ("message_id", "timestamp")

_PREFIX_LENGTH = len(CONTEXT_PREFIX)
# A JSONPath expression that names ctxt or metadata as a field (a word of
# its own: glance_metadata is not metadata).
_NAMES_AN_ALIAS = re.compile(rf"(?<![\w@-])(?:{CONTEXT}|{METADATA})(?![\w@-])")


def names_an_alias(expression: str) -> bool:
    """Whether a JSONPath expression mentions ``ctxt`` or ``metadata``."""
    return _NAMES_AN_ALIAS.search(expression) is not None


def context_of(body: Any) -> Any:
    """The request context as Ceilometer's ``ctxt``.

    A new dict when there are ``_context_`` keys or a sent ``ctxt`` dict;
    otherwise whatever the publisher sent as ``ctxt`` (None: nothing).
    """
    if not isinstance(body, dict):
        return None
    sent = body.get(CONTEXT)
    context: dict[str, Any] = dict(sent) if isinstance(sent, dict) else {}
    for key, value in body.items():
        if key.__class__ is str and key.startswith(CONTEXT_PREFIX):
            context[key[_PREFIX_LENGTH:]] = value
    if not context and not isinstance(sent, dict):
        return sent
    return context


def metadata_of(body: Any) -> dict[str, Any] | None:
    """The message metadata as Ceilometer's ``metadata`` (None: not a dict body)."""
    if not isinstance(body, dict):
        return None
    sent = body.get(METADATA)
    metadata: dict[str, Any] = dict(sent) if isinstance(sent, dict) else {}
    for key in METADATA_KEYS:
        metadata[key] = body.get(key)
    return metadata


def ceilometer_view(body: Any) -> Any:
    """A new dict: ``body``'s keys plus ``ctxt`` and ``metadata`` as above.

    The notification's own keys (``_context_*``, ``message_id``, …) stay, so
    every path that works on the notification works on the view too.
    """
    if not isinstance(body, dict):
        return body
    view = dict(body)
    context = context_of(body)
    if context is not None:
        view[CONTEXT] = context
    view[METADATA] = metadata_of(body)
    return view
