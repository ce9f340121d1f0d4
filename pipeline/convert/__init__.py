"""Pure converters: message bodies → notification dicts → events.

``decode_notification(body)`` unwraps an oslo.messaging v1/v2 or plain JSON
body (:mod:`pipeline.convert.envelope`); ``EventConverter`` applies event
definitions (:mod:`pipeline.convert.definitions`) and trait plugins
(:mod:`pipeline.convert.plugins`, entry point group ``pipeline.trait_plugin``).
Log records become ticket records with ``decode_log_record`` and
``ticket_record`` (:mod:`pipeline.convert.tickets`, grouping in
:mod:`pipeline.convert.grouping`).
Nothing here does I/O after construction, reads configuration or the clock.
"""

from pipeline.convert.envelope import decode_notification
from pipeline.convert.events import EventConverter
from pipeline.convert.plugins import TraitPluginBase
from pipeline.convert.tickets import decode_log_record, notification_record, ticket_record

__all__ = [
    "EventConverter",
    "TraitPluginBase",
    "decode_log_record",
    "decode_notification",
    "notification_record",
    "ticket_record",
]
