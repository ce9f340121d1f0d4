"""``pipeline config check``: validate a configuration and say what it would do.

The check reads the configuration files, the event definitions and the
installed drivers, and looks at the brokers passively (nothing is declared,
an unreachable broker is only a warning; ``--offline`` skips the look), so
it is safe to run on a host before the broker or the database exists. It
reports

* errors (exit status 2): an option or section pipeline does not know in
  a known group, a value its type rejects, a storage scheme no installed
  driver serves or whose extra is missing, event definitions that do not
  load (with file, line and column);
* warnings: sections pipeline does not read (another program's, or a typo),
  settings that will not do what they suggest;
* the plan: storage driver and URL, transport URLs (passwords masked),
  exchanges, queues and bindings, and for each of them on the broker whether
  it will be used as found or declared, and with which flags; batching,
  ticketing and the API.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from oslo_config import cfg

from pipeline import opts, storage
from pipeline.consume import topology
from pipeline.exceptions import ConfigError, PipelineError
from pipeline.service import prepare_service
from pipeline.storage import Capability

#: Options oslo.config itself reads from [DEFAULT].
#: Seconds ``config check`` waits for a broker before reporting it unreachable.
BROKER_TIMEOUT = 5.0
_OSLO_DEFAULT_OPTS = {"config_file", "config_dir", "config_source", "shell_completion"}
#: Sections read by libraries the API runs (keystonemiddleware, oslo.policy),
#: whose options depend on the library and the auth plugin: not name-checked.
LIBRARY_SECTIONS = {"keystone_authtoken", "oslo_policy"}


@dataclass
class Report:
    """Outcome of a check: problems found and the plan, as printable lines."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    plan: list[tuple[str, str]] = field(default_factory=list)

    def add(self, label: str, text: str) -> None:
        """Append one ``label: text`` line to the plan."""
        self.plan.append((label, text))


def config_files(conf: cfg.ConfigOpts) -> list[str]:
    """The files ``conf`` was read from, in reading order."""
    files = list(conf.config_file or [])
    for directory in conf.config_dir or []:
        files += sorted(glob.glob(os.path.join(directory, "*.conf")))
    return files


def known_options() -> dict[str, set[str]]:
    """Option names (and deprecated names) pipeline reads, by section."""
    known: dict[str, set[str]] = {"DEFAULT": set(_OSLO_DEFAULT_OPTS)}
    for group, options in opts.list_opts():
        names = known.setdefault(group or "DEFAULT", set())
        for opt in options:
            names.update({opt.name, opt.dest})
            names.update(d.name for d in opt.deprecated_opts if d.name)
    return known


def check_names(path: str, report: Report) -> None:
    """Report sections and options of ``path`` that pipeline does not know."""
    sections: dict[str, dict[str, list[str]]] = {}
    try:
        cfg.ConfigParser(path, sections).parse()
    except (OSError, cfg.ParseError) as err:
        report.errors.append(f"{path}: cannot be read: {err}")
        return
    known = known_options()
    for section, values in sections.items():
        if section in LIBRARY_SECTIONS:
            continue
        if section not in known:
            report.warnings.append(
                f"{path}: section [{section}] is not read by pipeline{_suggest(section, known)}"
            )
            continue
        for name in values:
            if name not in known[section]:
                report.errors.append(
                    f"{path}: unknown option {name!r} in [{section}]"
                    f"{_suggest(name, known[section])}"
                )


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_values(conf: cfg.ConfigOpts, report: Report) -> None:
    """Read every option once, so that values of the wrong type are reported."""
    for group, options in opts.list_opts():
        section = conf if group in (None, "DEFAULT") else conf[group]
        for opt in options:
            try:
                getattr(section, opt.dest)
            except (cfg.Error, ValueError) as err:
                # oslo.config's message repeats the location object; keep the reason.
                reason = str(err).rsplit(" is not valid: ", 1)[-1]
                report.errors.append(f"invalid value for [{group}] {opt.name}: {reason}")


def mask_transport_url(url: str) -> str:
    """``transport_url`` with every password masked (kombu allows ``;``-separated hosts)."""
    return ";".join(storage.dress_url(part) for part in url.split(";"))


def check_storage(conf: cfg.ConfigOpts, report: Report) -> None:
    """The driver of ``[database] connection``: installed, loadable, capable enough."""
    url = conf.database.connection
    try:
        scheme = storage.url_scheme(url)
        driver_class = storage.load_driver(scheme)
    except (PipelineError, ImportError, AttributeError) as err:  # a broken entry point
        report.errors.append(f"[database] connection {storage.dress_url(url)}: {err}")
        return
    capabilities = driver_class.capabilities
    report.add(
        "storage",
        f"{storage.dress_url(url)} (driver {scheme!r}: {driver_class.__module__}; "
        f"capabilities: {', '.join(sorted(c.value for c in capabilities)) or 'none'})",
    )
    ttl = conf.database.event_time_to_live
    report.add(
        "retention",
        f"'pipeline expire' deletes events older than {ttl} s"
        if ttl > 0
        else "events are kept forever (event_time_to_live <= 0)",
    )
    if ttl > 0 and Capability.EVENT_EXPIRY not in capabilities:
        report.errors.append(
            f"[database] event_time_to_live is {ttl} but driver {scheme!r} cannot expire events"
        )
    if Capability.TICKETS not in capabilities:
        report.warnings.append(
            f"driver {scheme!r} stores no tickets: log records and error notifications "
            "cannot become tickets, and the tickets API is unavailable"
        )


def check_definitions(conf: cfg.ConfigOpts, report: Report) -> None:
    """Load the event definitions exactly as the consumer will."""
    from pipeline.convert import EventConverter  # the converter pulls in jsonpath

    path = conf.event.definitions_cfg_file
    try:
        EventConverter.from_file(
            path,
            drop_unmatched=conf.event.drop_unmatched_notifications,
            store_raw=conf.event.store_raw,
        )
    except (PipelineError, OSError) as err:
        report.errors.append(f"event definitions: {err}")
        return
    unmatched = "dropped" if conf.event.drop_unmatched_notifications else "kept with default traits"
    raw = ", ".join(conf.event.store_raw) or "none"
    report.add(
        "events",
        f"definitions {path or '(packaged with pipeline)'}; unmatched notifications "
        f"{unmatched}; raw notification kept for priorities: {raw}",
    )


def describe_bus(conf: cfg.ConfigOpts, report: Report, *, look: bool = True) -> None:
    """Transports, exchanges, queues and bindings, and what the broker has of them.

    With ``look``, each broker is asked passively (nothing is declared) about
    every exchange and queue: used as found, found with other flags, or
    missing and to be declared with which flags.
    """
    notif = conf.notification
    try:
        flags = topology.oslo_flags(conf)
    except ConfigError as err:
        report.errors.append(str(err))
        return
    for feed in topology.feeds(conf):
        reads = " and ".join(
            what
            for what, on in (
                ("notifications", feed.notifications),
                ("log records", feed.log_records),
            )
            if on
        )
        report.add("transport", f"{mask_transport_url(feed.url)}: {reads}")
    queues = [queue.name for queue in topology.notification_queues(conf)]
    exchanges = [exchange.name for exchange in topology.notification_exchanges(conf)]
    owner = (
        f"pool queue of pipeline's own {notif.pool!r}" if notif.pool else "oslo.messaging's queues"
    )
    report.add(
        "notifications",
        f"{owner} {', '.join(queues)} bound on {len(exchanges)} topic exchanges "
        f"({', '.join(exchanges)}); missing ones are declared as oslo.messaging "
        f"would with [oslo_messaging_rabbit]: {flags.describe()}",
    )
    dead = topology.dead_letter_queue(conf)
    report.add("dead letters", f"exchange {notif.dead_letter_exchange!r} -> queue {dead.name!r}")
    prefetch = notif.prefetch_count or 2 * notif.batch_size
    report.add(
        "batches",
        f"{notif.batch_size} messages or {notif.batch_timeout} s per write; prefetch "
        f"{prefetch} per queue; {notif.workers} worker process(es)",
    )
    if look:
        for feed in topology.feeds(conf):
            look_at_broker(conf, feed, report)


def look_at_broker(conf: cfg.ConfigOpts, feed: topology.Feed, report: Report) -> None:
    """Add what the broker of ``feed`` has of each entity; warn if unreachable."""
    from pipeline.consume.broker import BrokerUnreachable, look

    try:
        survey = look(conf, feed, BROKER_TIMEOUT)
    except BrokerUnreachable as err:
        report.warnings.append(f"could not check the exchanges and queues: {err}")
        return
    report.add("broker", f"{mask_transport_url(feed.url)}, asked passively (nothing declared):")
    for finding in survey.findings:
        report.add(f"  {finding.kind}", finding.describe(kind=False))
    report.warnings.extend(survey.warnings)


def describe_ticketing(conf: cfg.ConfigOpts, report: Report) -> None:
    """Where log records come from and how they are grouped."""
    tick = conf.ticketing
    queue = topology.logging_queue(conf)
    priorities = ", ".join(tick.notification_priorities) or "none"
    salt = "set" if tick.hash_salt else "derived from the app id"
    kept = f"{tick.occurrence_time_to_live} s" if tick.occurrence_time_to_live > 0 else "forever"
    report.add(
        "ticketing",
        f"log records from queue {queue.name!r} (direct exchange "
        f"{queue.exchange.name!r}); notifications of priority {priorities} too; "
        f"grouping {tick.grouping!r}, salt {salt}, default app id {tick.app_id!r}; "
        f"occurrences kept {kept}",
    )


def run_check(conf: cfg.ConfigOpts, *, look: bool = True) -> Report:
    """Check ``conf`` and the files it came from; ``look`` asks the brokers (passively)."""
    report = Report()
    files = config_files(conf)
    report.add("config files", ", ".join(files) or "none (defaults apply)")
    for path in files:
        check_names(path, report)
    check_values(conf, report)
    if report.errors:  # the rest reads option values; they must be valid first
        return report
    check_storage(conf, report)
    check_definitions(conf, report)
    describe_bus(conf, report, look=look)
    describe_ticketing(conf, report)
    api = conf.api
    report.add("api", f"http://{api.host}:{api.port}/ (auth {api.auth_strategy})")
    describe_metrics(conf, report)
    return report


def describe_metrics(conf: cfg.ConfigOpts, report: Report) -> None:
    """Where the metrics and probes are served; an address that cannot be parsed is an error."""
    from pipeline.metrics.server import parse_listen

    try:
        consume = parse_listen(conf.metrics.listen)
        api = parse_listen(conf.metrics.api_listen, "[metrics] api_listen")
    except ConfigError as err:
        report.errors.append(str(err))
        return
    where = "off" if consume is None else f"http://{conf.metrics.listen.strip()}/metrics"
    api_where = "the API port" if api is None else f"http://{conf.metrics.api_listen.strip()}"
    report.add("metrics", f"consume: {where} (+ /healthz, /readyz); api: /metrics on {api_where}")


def check(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    """Handler of ``pipeline config check``: 0 when valid, 2 when not."""
    if args.check_config_file:
        argv = [arg for path in args.check_config_file for arg in ("--config-file", path)]
        try:
            conf = prepare_service(argv)
        except (cfg.Error, ValueError) as err:
            raise ConfigError(f"configuration: {err}") from err
    report = run_check(conf, look=not args.offline)
    width = max(len(label) for label, _ in report.plan) + 1
    for label, text in report.plan:
        print(f"{label + ':':<{width}} {text}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if report.errors:
        print(f"configuration is NOT valid: {len(report.errors)} error(s)", file=sys.stderr)
        return 2
    print("configuration is valid")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``config check``."""
    parser = subparsers.add_parser(
        "config",
        help="check the configuration",
        description="Commands about the configuration file.",
    )
    commands = parser.add_subparsers(dest="config_command", metavar="COMMAND")
    commands.required = True
    check_parser = commands.add_parser(
        "check",
        help="validate the configuration and show what it would do",
        description="Validate the configuration files and the event definitions, "
        "then print the storage driver, the URLs (passwords masked), exchanges, "
        "queues and bindings (and, asked passively of each broker, whether each "
        "will be used as found or declared, with which flags), batching and "
        "ticketing. Nothing is declared or written. Exit status 2 when something "
        "is wrong; an unreachable broker is a warning.",
    )
    check_parser.add_argument(
        "--offline",
        action="store_true",
        help="do not contact the brokers",
    )
    check_parser.add_argument(
        "--config-file",
        dest="check_config_file",
        action="append",
        default=[],
        metavar="PATH",
        help="file to check (repeatable); same as the global --config-file",
    )
    check_parser.set_defaults(func=check)
