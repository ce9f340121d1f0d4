"""Does the storage answer, and in time? A bounded probe for ``/readyz`` and ``/metrics``.

Each probe asks for the schema version
(:meth:`pipeline.storage.Connection.schema_state`, a round trip) and, when
asked and the driver stores tickets, counts the tickets per status. Given a
URL, the probe keeps one storage connection of its own between probes
(opening one per probe would cost a database backend each time, and
Kubernetes probes every few seconds), opened on first use and dropped
after a failure so that the next probe connects afresh; it lives in the
process that serves the probes, which never forks. Given a ``connection``
callable, it uses the caller's (the API's). It runs on a thread of its own; the caller waits at most
``timeout`` seconds, and a probe still running is waited for again rather
than started twice. A result stays fresh for ``max_age`` seconds, so bursts
of probes and scrapes cost one round trip.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from pipeline import storage
from pipeline.exceptions import PipelineError
from pipeline.models import TicketStatus
from pipeline.storage import Capability, Connection, SchemaState


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found (``at``: time.monotonic() when it finished)."""

    ok: bool
    detail: str
    seconds: float
    at: float
    schema: SchemaState | None = None
    tickets: dict[str, int] = field(default_factory=dict)


class StorageProbe:
    """Bounded, de-duplicated probes of the storage at ``url`` (or of ``connection()``).

    ``connection`` returns the caller's open connection (None: not open yet);
    ``tickets``: also count the tickets per status.
    """

    def __init__(
        self,
        timeout: float,
        *,
        url: str | None = None,
        connection: Callable[[], Connection | None] | None = None,
        tickets: bool = False,
    ) -> None:
        self.url = url
        self.connection = connection
        self.timeout = timeout
        self.tickets = tickets
        self.last: ProbeResult | None = None
        self._lock = threading.Lock()
        self._future: Future[ProbeResult] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline-probe")
        self._own: Connection | None = None  # only touched on the probe thread

    def check(self, max_age: float = 1.0) -> ProbeResult:
        """A result at most ``max_age`` seconds old; not ok when the storage did not answer."""
        with self._lock:
            last = self.last
            if last is not None and time.monotonic() - last.at <= max_age:
                return last
            if self._future is None or self._future.done():
                self._future = self._executor.submit(self._probe)
            future = self._future
        try:
            result = future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            return ProbeResult(
                False,
                f"storage did not answer within {self.timeout:g}s",
                self.timeout,
                time.monotonic(),
            )
        self.last = result
        return result

    def close(self) -> None:
        """Stop the probe thread and close its connection (after a probe in progress)."""
        self._executor.submit(self._drop)
        self._executor.shutdown(wait=False, cancel_futures=False)

    def _probe(self) -> ProbeResult:
        started = time.monotonic()
        try:
            if self.connection is not None:
                conn = self.connection()
                if conn is None:
                    return ProbeResult(False, "storage not connected yet", 0.0, started)
                schema, tickets = self._ask(conn)
            else:
                assert self.url is not None
                if self._own is None:
                    # No ConfigOpts: one connection attempt, no start-up retries.
                    self._own = storage.get_connection(self.url)
                schema, tickets = self._ask(self._own)
        except PipelineError as err:
            self._drop()
            now = time.monotonic()
            return ProbeResult(False, f"{type(err).__name__}: {err}", now - started, now)
        now = time.monotonic()
        detail = "answered" if schema.up_to_date else _outdated(schema)
        return ProbeResult(True, detail, now - started, now, schema, tickets)

    def _drop(self) -> None:
        own, self._own = self._own, None
        if own is not None:
            own.close()

    def _ask(self, conn: Connection) -> tuple[SchemaState, dict[str, int]]:
        schema = conn.schema_state()
        tickets = {}
        if self.tickets and Capability.TICKETS in conn.capabilities:
            tickets = {status.value: conn.count_tickets(status=status) for status in TicketStatus}
        return schema, tickets


def _outdated(schema: SchemaState) -> str:
    return (
        f"answered; schema version {schema.current or 'none'} is not the expected "
        f"{schema.expected} (run pipeline dbsync)"
    )
