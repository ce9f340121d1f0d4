"""``pipeline consume`` with workers = 2, scraped as Prometheus would: real RabbitMQ, PostgreSQL.

The counters must move by exactly what was published (good, duplicate and
bad messages, per queue and dead-letter reason), the backlog gauge must
show the waiting messages and fall to 0, ``/readyz`` must turn unready while
PostgreSQL refuses connections and ready again after, and a killed worker
must show as a restart without any counter going backwards.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

from oslo_config import cfg

from pipeline.metrics.monitor import PROCESS_NAME
from pipeline.storage import get_connection
from tests import servers
from tests.functional.consume.conftest import (
    ConsumerProcess,
    Names,
    declare_topology,
    publish_raw,
    wait_for,
)
from tests.functional.consume.scraping import Samples, get, readyz, scrape, total, value
from tests.functional.consume.test_faults import publish_stream
from tests.functional.consume.test_process import children


def serving_process(pid: int) -> list[int]:
    """The metrics process of ``pipeline consume`` ``pid`` (a list: empty while it is replaced)."""
    return [
        child for child in children(pid)
        if Path(f"/proc/{child}/comm").read_text().strip() == PROCESS_NAME
    ]


def workers(pid: int) -> list[int]:
    """The worker processes of ``pipeline consume`` ``pid`` (not its metrics process)."""
    return [
        child for child in children(pid)
        if Path(f"/proc/{child}/comm").read_text().strip() != PROCESS_NAME
    ]

BACKLOG = 4000
DUPLICATES = 40
UNDECODABLE = [b"\xff\xfe not even text", b"{broken json", b""]
NOT_NOTIFICATIONS = [b'{"event_type": "compute.instance.update"}', b'["a", "list"]']
UNMATCHED = 5
LOG_RECORDS = 10
#: Records of a solved ticket that reopen it (one regression, however many).
REGRESSING = 6
BAD_LEVELS = 2


def notification(message_id: str, event_type: str, **payload: object) -> bytes:
    return json.dumps({
        "message_id": message_id, "event_type": event_type, "publisher_id": "compute.h1",
        "priority": "INFO", "timestamp": "2026-11-25 10:00:00.000001",
        "payload": {"instance_id": message_id, "tenant_id": "t1", **payload},
    }).encode()


def log_record(number: int, **fields: object) -> bytes:
    record = {
        "level": 40, "time": "2026-11-25T10:00:00.000Z", "msg": f"boom {number}",
        "channel": "app.db", "module": "app.db", "filename": "app/db.py",
        "lineno": 10 + number % 2, "func_name": "connect", **fields,
    }
    return json.dumps(record).encode()


def publish_phase_two(names: Names) -> None:
    """Duplicates, every kind of bad message, unmatched notifications, log records."""
    info = [notification(f"metrics-{i:06d}", "compute.instance.update")
            for i in range(DUPLICATES)]
    info += UNDECODABLE + NOT_NOTIFICATIONS
    info += [notification(f"unmatched-{i}", "nobody.defines.this") for i in range(UNMATCHED)]
    # PostgreSQL refuses a NUL character in text: the driver reports it failed.
    info.append(notification("nul-trait", "compute.instance.update", display_name="a\u0000b"))
    publish_raw(names, info)
    logs = [log_record(i) for i in range(LOG_RECORDS)]
    logs += [log_record(100 + i, level="bogus") for i in range(BAD_LEVELS)]
    logs.append(log_record(200, channel="nul\u0000channel"))  # refused by the driver
    publish_raw(names, logs, routing_key=names.logging, exchange=names.logging)


def solved_then_hit_again(port: int, names: Names, pg_url: str, before: Samples) -> None:
    """Both tickets solved, then records of one of them (split over the two
    workers) and of a new call site: one regression, one ticket created."""
    storage = get_connection(pg_url)
    try:
        for ticket in storage.get_tickets(limit=None):
            storage.solve_ticket(ticket.ticket_id)
    finally:
        storage.close()
    acknowledged = value(before, "pipeline_messages_acknowledged_total", queue=names.logging)
    again = [log_record(300 + 2 * i) for i in range(REGRESSING)]  # lineno 10: solved before
    again.append(log_record(400, lineno=99))  # a new call site
    publish_raw(names, again, routing_key=names.logging, exchange=names.logging)
    wait_for(lambda: value(scrape(port), "pipeline_messages_acknowledged_total",
                           queue=names.logging) == acknowledged + REGRESSING + 1, 30,
             "the records after the solve acknowledged")
    after = scrape(port)
    for name, moved in (("pipeline_tickets_regressed_total", 1),
                        ("pipeline_tickets_created_total", 1),
                        ("pipeline_ticket_occurrences_stored_total", REGRESSING + 1)):
        assert value(after, name) - value(before, name) == moved, name


def test_two_workers_count_exactly_what_was_sent_and_readiness_follows_storage(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    declare_topology(consume_conf)
    publish_stream(names, BACKLOG, "metrics")
    port = servers.free_port()
    proc = consumer_process(
        "batch_size = 100",
        "[event]", "drop_unmatched_notifications = true",
        "[metrics]", f"listen = 127.0.0.1:{port}", "backlog_interval = 0.5",
        extra=("--workers", "2"),
    )
    info, logging_queue = names.queue, names.logging
    # The backlog gauge shows the waiting messages, then falls to 0.
    seen: list[float] = []

    def drained() -> bool:
        if get(port, "/healthz")[0] != 200:
            return False
        samples = scrape(port)
        seen.append(value(samples, "pipeline_queue_messages",
                          broker="amqp://127.0.0.1:5672//", queue=info))
        return value(samples, "pipeline_messages_acknowledged_total", queue=info) == BACKLOG

    wait_for(drained, 90, f"{BACKLOG} messages acknowledged")
    assert max(seen) > 0, f"the backlog was never seen: {seen}"
    wait_for(lambda: value(scrape(port), "pipeline_queue_messages",
                           broker="amqp://127.0.0.1:5672//", queue=info) == 0, 10, "backlog 0")
    first = scrape(port)
    assert value(first, "pipeline_messages_received_total", queue=info) == BACKLOG
    assert value(first, "pipeline_events_stored_total",
                 event_type="compute.instance.update") == BACKLOG
    assert value(first, "pipeline_batch_size_messages_sum") == BACKLOG
    assert value(first, "pipeline_workers") == 2
    assert value(first, "pipeline_queue_consumers",
                 broker="amqp://127.0.0.1:5672//", queue=info) == 2
    for worker in ("0", "1"):
        assert value(first, "pipeline_broker_connected",
                     worker=worker, broker="amqp://127.0.0.1:5672//") == 1
    assert readyz(port)[0] == 200

    publish_phase_two(names)
    bad_info = len(UNDECODABLE) + len(NOT_NOTIFICATIONS) + UNMATCHED + 1
    wait_for(lambda: value(scrape(port), "pipeline_messages_acknowledged_total", queue=info)
             == BACKLOG + DUPLICATES + bad_info, 30, "phase two acknowledged")
    wait_for(lambda: value(scrape(port), "pipeline_messages_acknowledged_total",
                           queue=logging_queue) == LOG_RECORDS + BAD_LEVELS + 1, 30,
             "log records acknowledged")
    second = scrape(port)

    def delta(name: str, **labels: str) -> float:
        return value(second, name, **labels) - value(first, name, **labels)

    assert delta("pipeline_messages_received_total", queue=info) == DUPLICATES + bad_info
    assert delta("pipeline_messages_duplicate_total", queue=info) == DUPLICATES
    assert delta("pipeline_notifications_dropped_total", queue=info) == UNMATCHED
    dead = "pipeline_messages_dead_lettered_total"
    assert delta(dead, queue=info, reason="undecodable") == len(UNDECODABLE)
    assert delta(dead, queue=info, reason="not_a_notification") == len(NOT_NOTIFICATIONS)
    assert delta(dead, queue=info, reason="storage_refused") == 1
    assert delta(dead, queue=info, reason="conversion") == 0
    assert delta(dead, queue=logging_queue, reason="conversion") == BAD_LEVELS
    assert delta(dead, queue=logging_queue, reason="storage_refused") == 1
    assert total(second, dead) == len(UNDECODABLE) + len(NOT_NOTIFICATIONS) + BAD_LEVELS + 2
    assert delta("pipeline_events_stored_total", event_type="compute.instance.update") == 0
    assert delta("pipeline_ticket_occurrences_stored_total") == LOG_RECORDS
    assert delta("pipeline_messages_received_total", queue=logging_queue) == (
        LOG_RECORDS + BAD_LEVELS + 1
    )
    assert total(second, "pipeline_storage_retries_total") == 0
    # Two call sites, so two tickets (counted by the storage, all writers).
    wait_for(lambda: value(scrape(port), "pipeline_tickets", status="open") == 2, 20,
             "two open tickets")
    assert delta("pipeline_tickets_created_total") == 2  # counted by the workers that made them
    assert delta("pipeline_tickets_regressed_total") == 0
    # The dead-letter queue's depth is watched as well.
    letters = total(second, dead)
    wait_for(lambda: value(scrape(port), "pipeline_queue_messages",
                           broker="amqp://127.0.0.1:5672//", queue=names.dead) == letters, 10,
             "the dead letters waiting in their queue")

    solved_then_hit_again(port, names, pg_url, second)

    # PostgreSQL refuses connections: not ready; allowed again: ready again.
    servers.allow_postgresql_connections(pg_url, False)
    try:
        wait_for(lambda: readyz(port)[0] == 503, 20, "/readyz unready while PostgreSQL refuses")
        status, body = readyz(port)
        assert status == 503 and body["storage"]["ok"] is False and body["broker"]["ok"]
        assert get(port, "/healthz")[0] == 200, "alive all the same"
        assert value(scrape(port), "pipeline_storage_up") == 0
    finally:
        servers.allow_postgresql_connections(pg_url, True)
    wait_for(lambda: readyz(port)[0] == 200, 20, "/readyz ready again")

    # A worker killed: counted as a restart, and no counter goes backwards.
    before = scrape(port)
    victim = workers(proc.proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: value(scrape(port), "pipeline_worker_restarts_total") == 1, 30,
             "the restart counted")
    wait_for(lambda: readyz(port)[0] == 200, 30, "ready again with the replacement worker")
    after = scrape(port)
    for (name, labels), count in before.items():
        if name.endswith("_total"):
            assert after.get((name, labels), 0) >= count, f"{name}{dict(labels)} went backwards"

    # The serving process killed: the supervisor starts another on the same
    # socket, and the counts (kept in the workers' files) are all still there.
    [server] = serving_process(proc.proc.pid)
    os.kill(server, signal.SIGKILL)
    wait_for(lambda: serving_process(proc.proc.pid) not in ([], [server]), 30,
             "a new metrics process")
    wait_for(lambda: readyz(port)[0] == 200, 30, "ready, served by the new metrics process")
    served_again = scrape(port)
    for (name, labels), count in after.items():
        if name.endswith("_total"):
            assert served_again.get((name, labels), 0) >= count, (
                f"{name}{dict(labels)} went backwards after the metrics process was replaced"
            )
    assert value(served_again, "pipeline_worker_restarts_total") == 1, "not a worker restart"
