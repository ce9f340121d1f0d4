"""``pipeline consume`` as an operator runs it: workers under a parent, SIGHUP."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from oslo_config import cfg

from pipeline import storage
from pipeline.storage import EventFilter
from tests.functional.consume.conftest import (
    ConsumerProcess,
    Names,
    declare_topology,
    queue_depth,
    wait_for,
)
from tests.functional.consume.test_faults import assert_exactly, publish_stream, stored_count


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def test_workers_share_the_queue_and_a_killed_worker_is_replaced(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    declare_topology(consume_conf)
    published = publish_stream(names, 8000, "workers")
    proc = consumer_process("batch_size = 200", extra=("--workers", "2"))
    wait_for(lambda: len(children(proc.proc.pid)) == 2, 20, "two workers started")
    wait_for(lambda: stored_count(pg_url) >= 1000, 40, "1000 events stored")
    victim = children(proc.proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: "restarting" in proc.output(), 10, "the parent noticed the crash")
    wait_for(
        lambda: len(children(proc.proc.pid)) == 2 and victim not in children(proc.proc.pid),
        15, "a replacement worker",
    )
    wait_for(lambda: stored_count(pg_url) >= len(published), 50, "every event stored")
    assert_exactly(pg_url, published)
    proc.signal(signal.SIGTERM)
    started = time.monotonic()
    assert proc.wait(20) == 0, proc.output()[-2000:]
    assert time.monotonic() - started < 10
    assert queue_depth(names.queue) == 0


DEFINITIONS = """
- event_type: compute.instance.*
  traits:
    instance_id:
      fields: payload.instance_id
{extra}
"""


def test_sighup_reloads_event_definitions_without_dropping_messages(
    consume_conf: cfg.ConfigOpts, names: Names, pg_url: str, tmp_path: Path,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    definitions = tmp_path / "event_definitions.yaml"
    definitions.write_text(DEFINITIONS.format(extra=""))
    declare_topology(consume_conf)
    proc = consumer_process("[event]", f"definitions_cfg_file = {definitions}")
    publish_stream(names, 50, "before")
    wait_for(lambda: stored_count(pg_url) >= 50, 30, "first events stored")
    definitions.write_text(
        DEFINITIONS.format(extra="    state:\n      fields: payload.state")
    )
    proc.signal(signal.SIGHUP)
    wait_for(lambda: "event definitions reloaded" in proc.output(), 10, "reload logged")
    publish_stream(names, 50, "after")
    wait_for(lambda: stored_count(pg_url) >= 100, 30, "later events stored")
    assert proc.proc.poll() is None
    conn = storage.get_connection(pg_url)
    try:
        events = conn.get_events(EventFilter())
    finally:
        conn.close()
    by_prefix = {e.message_id.split("-")[0]: e for e in events}
    assert by_prefix["before"].trait("state") is None
    assert by_prefix["after"].trait("state").value == "active"  # type: ignore[union-attr]
    assert len(events) == 100
    # A broken file is refused and the running definitions stay.
    definitions.write_text("- event_type: [unclosed\n")
    proc.signal(signal.SIGHUP)
    wait_for(lambda: "keeping the previous ones" in proc.output(), 10, "bad reload refused")
    assert proc.proc.poll() is None
