"""Reading a running consumer's /metrics, /healthz and /readyz, as Prometheus and probes do."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

#: (sample name, frozenset of its labels) -> value
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def get(port: int, path: str) -> tuple[int, bytes]:
    """Status and body of ``GET http://127.0.0.1:port/path`` (0: nothing listens)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def scrape_text(port: int) -> str:
    status, body = get(port, "/metrics")
    assert status == 200, f"/metrics answered {status}"
    return body.decode()


def parse(text: str) -> Samples:
    """Every sample of an exposition, parsed with prometheus_client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(port: int) -> Samples:
    return parse(scrape_text(port))


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def readyz(port: int) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of /readyz; a body that is not JSON (a server
    still starting, or not ours yet on that port) reads as empty."""
    status, body = get(port, "/readyz")
    try:
        return status, (json.loads(body) if body else {})
    except ValueError:
        return status, {}
