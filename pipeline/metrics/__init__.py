"""Watching pipeline run: Prometheus metrics and health probes.

* :mod:`~pipeline.metrics.consumer` — the metrics a consumer process records;
* :mod:`~pipeline.metrics.files` — prometheus_client's multiprocess files of one run;
* :mod:`~pipeline.metrics.exporter` — the merged exposition, service-wide metrics, readiness;
* :mod:`~pipeline.metrics.probe` — a bounded storage probe (schema version, tickets);
* :mod:`~pipeline.metrics.server` — the HTTP listener (/metrics, /healthz, /readyz);
* :mod:`~pipeline.metrics.monitor` — all of it for one ``pipeline consume`` run.

The API's metrics live beside the API, in :mod:`pipeline.api.monitoring`.
Every metric and its meaning: README.rst, *Monitoring*.
"""
