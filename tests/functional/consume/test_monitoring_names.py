"""The dashboard and the alert rules name only metrics that pipeline really exports.

A real ``pipeline consume`` (RabbitMQ, PostgreSQL) and a real API are
scraped; every ``pipeline_*`` name in etc/grafana/pipeline-dashboard.json
and etc/prometheus/alerts.yaml must be among the sample names they return.
promtool's linter checks the exposition's names and types on the way.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import yaml
from fastapi.testclient import TestClient
from oslo_config import cfg

from pipeline import storage
from pipeline.api import create_app
from pipeline.service import prepare_service
from tests import servers
from tests.functional.consume.conftest import ConsumerProcess, Names, declare_topology, wait_for
from tests.functional.consume.scraping import parse, readyz, scrape_text
from tests.functional.consume.test_faults import publish_stream
from tests.unit.monitoring.test_shipped_monitoring import ALERTS, dashboard_queries, promtool

_NAME = re.compile(r"\bpipeline_[a-z0-9_]+\b")


def referenced_names() -> dict[str, set[str]]:
    """Metric names each shipped file refers to."""
    alerts = yaml.safe_load(ALERTS.read_text())
    exprs = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    return {
        "alerts.yaml": {name for expr in exprs for name in _NAME.findall(expr)},
        "pipeline-dashboard.json": {
            name for query in dashboard_queries() for name in _NAME.findall(query)
        },
    }


def api_sample_names() -> set[str]:
    conf = prepare_service([], config_files=[])
    conf.set_override("auth_strategy", "noauth", "api")
    conn = storage.get_connection("memory://")
    with TestClient(create_app(conf, conn)) as client:
        assert client.get("/readyz").status_code == 200
        client.get("/v2/events")
        text = client.get("/metrics").text
    return {name for name, _ in parse(text)}


def test_dashboard_and_alerts_name_only_scraped_metrics(
    consume_conf: cfg.ConfigOpts, names: Names,
    consumer_process: Callable[..., ConsumerProcess],
) -> None:
    declare_topology(consume_conf)
    publish_stream(names, 20, "names")
    port = servers.free_port()
    consumer_process("[metrics]", f"listen = 127.0.0.1:{port}")
    wait_for(lambda: readyz(port)[0] == 200, 60, "consumer ready")
    # The backlog gauges appear with the first look at the queues, which may
    # come a moment after the consumer reports ready.
    wait_for(lambda: "pipeline_queue_messages" in scrape_text(port), 30, "the first backlog look")
    text = scrape_text(port)
    scraped = {name for name, _ in parse(text)} | api_sample_names()
    for source, referenced in referenced_names().items():
        assert referenced, f"{source} names no metric"
        unknown = referenced - scraped
        assert not unknown, f"{source} refers to metrics nobody exports: {sorted(unknown)}"
    lint = subprocess.run([promtool(), "check", "metrics"], input=text,
                          check=False, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
