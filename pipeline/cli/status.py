"""``pipeline status``: are the broker and the storage there and answering?

For the configuration given it checks, and prints one line per check:

* each broker (one per feed): reachable within ``--timeout``; for every
  queue pipeline reads, the messages ready (the backlog) and the consumers,
  asked passively (nothing is declared, nothing taken). A queue that does
  not exist yet is no failure: ``pipeline consume`` declares it. The
  start-up warnings of ``pipeline consume`` (a queue shared with another
  reader, a stranded queue) are printed too;
* the storage: it answers within ``--timeout`` and holds the schema version
  this code expects (else: run ``pipeline dbsync``);
* with ``--consumer``: the running ``pipeline consume``'s ``/readyz`` at
  ``[metrics] listen`` says ready.

Exit status 0 when every check passed, 1 when one failed, 2 for a bad
configuration: usable as a systemd ``ExecStartPre``, a Kubernetes exec
probe or a monitoring check.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

from oslo_config import cfg

from pipeline import storage
from pipeline.cli.config import mask_transport_url
from pipeline.cli.output import add_format_option, print_json
from pipeline.consume import topology
from pipeline.consume.broker import BrokerUnreachable, look
from pipeline.consume.declaring import Status
from pipeline.metrics.probe import StorageProbe
from pipeline.metrics.server import parse_listen


@dataclass
class Check:
    """One thing checked: what, whether it is fine, and the details."""

    name: str
    ok: bool
    detail: str
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_broker(conf: cfg.ConfigOpts, feed: topology.Feed, timeout: float) -> Check:
    """The broker of ``feed`` and the depth of each queue read there."""
    name = f"broker {mask_transport_url(feed.url)}"
    try:
        survey = look(conf, feed, timeout)
    except BrokerUnreachable as err:
        return Check(name, False, f"not reachable: {err}")
    lines = []
    for finding in survey.findings:
        if finding.kind != "queue":
            continue
        if finding.status is Status.MISSING:
            lines.append(f"queue {finding.name}: missing (pipeline consume declares it)")
        else:
            lines.append(
                f"queue {finding.name}: {finding.messages} messages ready, "
                f"{finding.consumers} consumers"
            )
    return Check(name, True, "reachable", lines, list(survey.warnings))


def check_storage(conf: cfg.ConfigOpts, timeout: float) -> Check:
    """The storage answers in time and its schema is the one this code expects."""
    name = f"storage {storage.dress_url(conf.database.connection)}"
    probe = StorageProbe(timeout, url=conf.database.connection)
    try:
        result = probe.check(max_age=0)
    finally:
        probe.close()
    if not result.ok:
        return Check(name, False, result.detail)
    schema = result.schema
    detail = f"answered in {result.seconds:.2f}s"
    if schema is None or schema.expected is None:
        return Check(name, True, f"{detail}; schema without versions")
    if not schema.up_to_date:
        return Check(
            name,
            False,
            f"{detail}; schema version {schema.current or 'none'}, expected "
            f"{schema.expected}: run pipeline dbsync",
        )
    return Check(name, True, f"{detail}; schema version {schema.current} (current)")


def check_consumer(conf: cfg.ConfigOpts, timeout: float) -> Check:
    """The running consumer's readiness, from its ``/readyz``."""
    address = parse_listen(conf.metrics.listen)
    if address is None:
        return Check("consumer", False, "[metrics] listen is empty: no /readyz to ask")
    host, port = address
    host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as err:
        return Check(f"consumer {url}", False, f"not ready: {_why(err.read())}")
    except (OSError, ValueError) as err:
        return Check(f"consumer {url}", False, f"not reachable: {err}")
    return Check(f"consumer {url}", True, "ready")


def _why(text: bytes) -> str:
    """The reasons a /readyz answer gives, in a line."""
    try:
        body: dict[str, Any] = json.loads(text)
    except ValueError:
        return text.decode(errors="replace")[:200]
    parts = []
    broker = body.get("broker") or {}
    if not broker.get("ok", True):
        parts.append("not consuming: " + ", ".join(broker.get("not consuming", [])))
    store = body.get("storage") or {}
    if not store.get("ok", True):
        parts.append(f"storage: {store.get('detail')}")
    return "; ".join(parts) or json.dumps(body)


def status(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Run every check, print them, and return 0 only when all passed."""
    checks = [check_broker(conf, feed, args.timeout) for feed in topology.feeds(conf)]
    checks.append(check_storage(conf, args.timeout))
    if args.consumer:
        checks.append(check_consumer(conf, args.timeout))
    ok = all(check.ok for check in checks)
    if args.format == "json":
        print_json({"ok": ok, "checks": [asdict(check) for check in checks]})
    else:
        for check in checks:
            print(f"{check.name}: {'ok' if check.ok else 'FAILED'} ({check.detail})")
            for line in check.lines:
                print(f"  {line}")
            for warning in check.warnings:
                print(f"  warning: {warning}")
        failed = sum(not check.ok for check in checks)
        print("status: ok" if ok else f"status: FAILED ({failed} of {len(checks)} checks)")
    return 0 if ok else 1


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``status``."""
    parser = subparsers.add_parser(
        "status",
        help="check that the broker and the storage answer; queue backlogs",
        description="Check each broker (reachable; messages ready and consumers of every "
        "queue pipeline reads, asked passively) and the storage (answers; schema "
        "version current), and with --consumer the running consumer's /readyz. "
        "Exits 0 when all is well, 1 when a check failed, 2 for a bad configuration.",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long each broker and the storage may take to answer (default 10)",
    )
    parser.add_argument(
        "--consumer",
        action="store_true",
        help="also ask the running 'pipeline consume' at [metrics] listen whether it is ready",
    )
    add_format_option(parser)
    parser.set_defaults(func=status)
