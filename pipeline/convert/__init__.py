"""Pure converters: message bodies → notification dicts → events.

``decode_notification(body)`` unwraps an oslo.messaging v1/v2 or plain JSON
body (:mod:`pipeline.convert.envelope`); ``EventConverter`` applies event
definitions (:mod:`pipeline.convert.definitions`) and trait plugins
(:mod:`pipeline.convert.plugins`, entry point group ``pipeline.trait_plugin``).
Nothing here does I/O after construction, reads configuration or the clock.
"""

from pipeline.convert.envelope import decode_notification
from pipeline.convert.events import EventConverter
from pipeline.convert.plugins import TraitPluginBase

__all__ = ["EventConverter", "TraitPluginBase", "decode_notification"]
