"""etc/prometheus/alerts.yaml and etc/grafana/pipeline-dashboard.json are well-formed.

The rules have the structure Prometheus expects (checked here without
Prometheus, and by ``promtool check rules``), each alert fires on what it
names and not on its look-alike (``promtool test rules``, alerts_test.yaml),
and every dashboard query parses as PromQL (promtool again, the queries
wrapped as recording rules). That they name only metrics ``pipeline``
really exports is checked against a real scrape in
tests/functional/consume/test_monitoring_names.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests import servers

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "etc/prometheus/alerts.yaml"
DASHBOARD = ROOT / "etc/grafana/pipeline-dashboard.json"
ALERT_TESTS = Path(__file__).with_name("alerts_test.yaml")
_DURATION = re.compile(r"\d+(ms|s|m|h|d|w|y)")
_RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        servers.unavailable("promtool", "Debian package prometheus is not installed")
    assert path is not None
    return path


def dashboard_queries() -> list[str]:
    """Every PromQL query of the dashboard (panel targets and template variables)."""
    board = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["definition"])
    return queries


def test_alert_rules_have_the_structure_prometheus_expects() -> None:
    document: Any = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"} and isinstance(document["groups"], list)
    names = []
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and isinstance(group["name"], str)
        for rule in group["rules"]:
            assert set(rule) <= _RULE_KEYS, f"unknown keys in {rule.get('alert')}"
            assert isinstance(rule["alert"], str) and re.fullmatch(r"[A-Za-z_]\w*", rule["alert"])
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert _DURATION.fullmatch(rule.get("for", "0s")), rule.get("for")
            for key in ("labels", "annotations"):
                assert all(isinstance(k, str) and isinstance(v, str)
                           for k, v in rule.get(key, {}).items())
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert {"summary", "description"} <= set(rule["annotations"])
            names.append(rule["alert"])
    assert len(names) == len(set(names)), "alert names repeat"
    assert {"PipelineBacklogGrowing", "PipelineNoCommit", "PipelineDeadLettersRising",
            "PipelineWorkerFlapping"} <= set(names)


def test_promtool_accepts_the_alert_rules() -> None:
    result = subprocess.run([promtool(), "check", "rules", str(ALERTS)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_on_its_situation_and_not_on_the_look_alike() -> None:
    result = subprocess.run([promtool(), "test", "rules", str(ALERT_TESTS)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_is_grafana_json_whose_queries_parse(tmp_path: Path) -> None:
    board = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 30
    titles = " ".join(panel["title"].lower() for panel in board["panels"])
    for topic in ("throughput", "backlog", "latency", "dead letters", "retries", "tickets"):
        assert topic in titles, f"no panel about {topic}"
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    # promtool parses PromQL only in rule files: wrap each query as a recording rule.
    # (label_values() is Grafana's, not PromQL: its metric name is checked elsewhere.)
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{number}", "expr": query}
        for number, query in enumerate(dashboard_queries())
        if not query.startswith("label_values(")
    ]}]}
    wrapped = tmp_path / "dashboard_rules.yaml"
    wrapped.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool(), "check", "rules", str(wrapped)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
