"""pipeline-jsonl: a third-party storage driver for pipeline, loaded by entry point.

It stores events as JSON lines in one directory, ``jsonl:///path/to/dir``,
and exists to show (and to test) how a package outside pipeline adds a
storage backend: one ``pipeline.storage`` entry point named after the URL
scheme, a :class:`pipeline.storage.base.Connection` subclass, and an honest
list of capabilities — events and their expiry, no tickets.
"""

from pipeline_jsonl.driver import Connection

__all__ = ["Connection"]
