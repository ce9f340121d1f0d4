"""Fixtures of the consumer tests: the real RabbitMQ, an isolated PostgreSQL
database, broker names of each test's own, and a consumer in a thread or in a
``pipeline consume`` process.

Every test declares its own exchanges and queues (unique names through
configuration overrides) and deletes them afterwards, so tests can run in
parallel with each other and with a deployment on the same broker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kombu
import pytest
from oslo_config import cfg

from pipeline import storage
from pipeline.consume.consumer import Consumer
from pipeline.consume.service import build_consumer
from tests import servers

AMQP_URL = servers.AMQP_URL
#: Every priority a notifier may publish (pipeline's default list).
PRIORITIES = ("audit", "critical", "debug", "error", "info", "sample", "warn")


@dataclass
class Names:
    """Broker entity names unique to one test."""

    tag: str
    exchanges: list[str]
    topic: str
    logging: str
    dlx: str
    dead: str
    #: Further queues a test declares (a pool), deleted with the rest.
    extra_queues: list[str] = field(default_factory=list)

    @property
    def queue(self) -> str:
        """The queue info notifications land in: oslo.messaging's <topic>.info."""
        return f"{self.topic}.info"

    def apply(self, conf: cfg.ConfigOpts) -> None:
        conf.set_override("transport_url", AMQP_URL)
        conf.set_override("exchanges", self.exchanges, "notification")
        conf.set_override("topics", [self.topic], "notification")
        conf.set_override("dead_letter_exchange", self.dlx, "notification")
        conf.set_override("dead_letter_queue", self.dead, "notification")
        conf.set_override("queue", self.logging, "ticketing")

    def config_lines(self) -> list[str]:
        return [
            "[DEFAULT]",
            f"transport_url = {AMQP_URL}",
            "[notification]",
            f"exchanges = {','.join(self.exchanges)}",
            f"topics = {self.topic}",
            f"dead_letter_exchange = {self.dlx}",
            f"dead_letter_queue = {self.dead}",
            "[ticketing]",
            f"queue = {self.logging}",
        ]


def _delete_entities(names: Names) -> None:
    with contextlib.suppress(Exception), kombu.Connection(AMQP_URL, connect_timeout=5) as conn:
        channel = conn.channel()
        queues = [names.logging, names.dead, *names.extra_queues]
        queues += [f"{names.topic}.{p}" for p in PRIORITIES]
        for queue in queues:
            channel.queue_delete(queue)
        for exchange in [*names.exchanges, names.logging, names.dlx]:
            channel.exchange_delete(exchange)


@pytest.fixture
def amqp() -> str:
    """The broker URL; skips (fails under CI=true) when RabbitMQ is not up."""
    if not servers.port_open("127.0.0.1", 5672):
        servers.unavailable("RabbitMQ", "nothing listens on 127.0.0.1:5672")
    return AMQP_URL


@pytest.fixture
def names(amqp: str) -> Iterator[Names]:
    tag = uuid.uuid4().hex[:10]
    found = Names(
        tag=tag,
        exchanges=[f"t-{tag}-nova", f"t-{tag}-glance"],
        topic=f"t-{tag}-notifications",
        logging=f"t-{tag}-logging",
        dlx=f"t-{tag}-dlx",
        dead=f"t-{tag}-dead",
    )
    yield found
    _delete_entities(found)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An isolated, upgraded PostgreSQL database."""
    with servers.postgresql_database() as url:
        conn = storage.get_connection(url)
        conn.upgrade()
        conn.close()
        yield url


@pytest.fixture
def consume_conf(conf: cfg.ConfigOpts, names: Names, pg_url: str) -> cfg.ConfigOpts:
    names.apply(conf)
    conf.set_override("connection", pg_url, "database")
    conf.set_override("batch_timeout", 0.2, "notification")
    conf.set_override("max_retry_interval", 2.0, "notification")
    return conf


@pytest.fixture
def threaded_consumer(consume_conf: cfg.ConfigOpts) -> Iterator[Callable[[], Consumer]]:
    """Start ``build_consumer`` in a thread; stopped and joined after the test."""
    running: list[tuple[threading.Thread, Consumer, storage.Connection]] = []

    def start() -> Consumer:
        conn = storage.get_connection_from_config(consume_conf)
        consumer = build_consumer(consume_conf, conn)
        thread = threading.Thread(target=consumer.run_until_stopped, daemon=True)
        thread.start()
        running.append((thread, consumer, conn))
        wait_for(lambda: consumer._conn is not None, 20, "consumer connected")
        return consumer

    yield start
    for thread, consumer, conn in running:
        consumer.stop()
        thread.join(20)
        conn.close()
        assert not thread.is_alive(), "consumer thread did not stop"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(0.05)


class ConsumerProcess:
    """``pipeline consume`` as a child process, with its output in a file."""

    def __init__(self, config: Path, log: Path, *extra: str) -> None:
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main())",
             "--config-file", str(config), "consume", *extra],
            stdout=self._out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


@pytest.fixture
def consumer_process(
    names: Names, pg_url: str, tmp_path: Path
) -> Iterator[Callable[..., ConsumerProcess]]:
    """Factory of ``pipeline consume`` processes on this test's names and database."""
    started: list[ConsumerProcess] = []

    def start(*lines: str, extra: tuple[str, ...] = ()) -> ConsumerProcess:
        config = tmp_path / "pipeline.conf"
        body = names.config_lines() + [
            # config_lines() ends in [ticketing]: these are [notification]'s.
            "[notification]",
            "batch_timeout = 0.2",
            "max_retry_interval = 2",
            "stats_interval = 5",
            # Metrics off unless a test turns them on (on a free port).
            "[metrics]",
            "listen =",
            # Lines without a section header of their own are [notification]'s.
            "[notification]",
            *lines,
            "[database]",
            f"connection = {pg_url}",
            "max_retries = -1",
            "retry_interval = 0.5",
        ]
        config.write_text("\n".join(_merge_sections(body)) + "\n")
        proc = ConsumerProcess(config, tmp_path / f"consume-{len(started)}.log", *extra)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def _merge_sections(lines: list[str]) -> list[str]:
    """Group option lines under their section headers (later sections merge)."""
    sections: dict[str, list[str]] = {}
    current = "[DEFAULT]"
    for line in lines:
        if line.startswith("["):
            current = line
            sections.setdefault(current, [])
        else:
            sections.setdefault(current, []).append(line)
    return [item for header, body in sections.items() for item in (header, *body)]


def publish_raw(
    names: Names, bodies: list[bytes], routing_key: str | None = None, exchange: str | None = None
) -> None:
    """Publish ``bodies`` persistently as JSON messages with publisher confirms."""
    with kombu.Connection(AMQP_URL, transport_options={"confirm_publish": True}) as conn:
        producer = kombu.Producer(conn.default_channel)
        for body in bodies:
            producer.publish(
                body,
                exchange=exchange or names.exchanges[0],
                routing_key=routing_key or f"{names.topic}.info",
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )


def declare_topology(conf: cfg.ConfigOpts) -> None:
    """Declare what the consumer reads up front, as a notifier that published
    first would have, so publishes before the consumer starts are kept."""
    from pipeline.consume import topology
    from pipeline.consume.declaring import ensure_topology

    with kombu.Connection(AMQP_URL) as conn:
        for feed in topology.feeds(conf):
            ensure_topology(conn, conf, feed)


def queue_depth(name: str) -> int:
    """Messages ready in queue ``name`` (unacknowledged ones are not counted)."""
    with kombu.Connection(AMQP_URL) as conn:
        return int(conn.default_channel.queue_declare(name, passive=True).message_count)


def stored_message_ids(pg_url: str) -> list[str]:
    """Every stored event's message id, straight from the database."""
    import psycopg

    url = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT message_id FROM event")]



def unacknowledged(name: str) -> int:
    """Messages of queue ``name`` delivered but not yet acknowledged (rabbitmqctl)."""
    listing = subprocess.run(
        ["rabbitmqctl", "list_queues", "name", "messages_unacknowledged", "-q"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    for line in listing.stdout.splitlines():
        queue, _, count = line.partition("\t")
        if queue == name:
            return int(count)
    raise AssertionError(f"queue {name} not found")
