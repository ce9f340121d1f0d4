"""Every configuration option of pipeline, declared once.

Options live in per-group lists; :func:`list_opts` hands them to
``oslo-config-generator`` (entry point ``oslo.config.opts``, namespace
``pipeline``) and :func:`pipeline.service.prepare_service` registers them on
a fresh :class:`oslo_config.cfg.ConfigOpts`.

This module deliberately imports nothing from the rest of the package so the
sample generator and third-party tools can load it cheaply.
"""

from __future__ import annotations

from oslo_config import cfg

DEFAULT_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "transport_url",
        default="amqp://guest:guest@localhost:5672//",
        secret=True,
        help="URL of the message bus to consume from, in kombu form "
        "(amqp://user:password@host:port/vhost). memory:// runs on kombu's "
        "in-process transport, for demos and tests.",
    ),
    cfg.StrOpt(
        "log_file",
        default=None,
        help="Append log lines to this file (also settable with --log-file). "
        "Unset, they go to standard error, which systemd hands to journald: "
        "rotation and retention are then journald's and no logrotate is "
        "needed. The file is reopened when it is moved or deleted, so an "
        "external rotation tool works as well.",
    ),
]

DATABASE_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "connection",
        default="sqlite:///pipeline.sqlite",
        secret=True,
        help="Storage URL; its scheme picks the driver: sqlite, postgresql, "
        "mysql/mariadb, mongodb, memory, or a third-party scheme registered "
        "in the pipeline.storage entry point group. A relative SQLite path "
        "is relative to the current directory.",
    ),
    cfg.IntOpt(
        "event_time_to_live",
        default=-1,
        help="Seconds to keep events; 'pipeline expire' deletes older ones. "
        "Zero or a negative value keeps events forever.",
    ),
    cfg.IntOpt(
        "events_delete_batch_size",
        default=10000,
        min=1,
        help="How many expired events one delete statement removes, so "
        "expiry never holds long locks.",
    ),
    cfg.IntOpt(
        "max_retries",
        default=10,
        help="How many times to retry connecting to the database at "
        "start-up before giving up; -1 retries forever.",
    ),
    cfg.FloatOpt(
        "retry_interval",
        default=1.0,
        min=0,
        help="Seconds between start-up connection attempts.",
    ),
    cfg.ListOpt(
        "postgresql_range_traits",
        default=["launched_at:datetime", "deleted_at:datetime"],
        help="PostgreSQL only: traits, as name:type (type: text, int, float "
        "or datetime), whose range filters (lt, le, gt, ge) get an index. "
        "Equality on any trait is indexed already; a range filter on a trait "
        "not listed reads it from each candidate event, which is slow when "
        "it matches few. Each listed trait costs one index entry per event "
        "that has it. 'pipeline dbsync' creates missing indexes (building "
        "one over existing events holds writers back meanwhile) and leaves "
        "those of traits no longer listed.",
    ),
    cfg.BoolOpt(
        "mongodb_ttl_index",
        default=False,
        help="MongoDB only: also create a TTL index on the event time so the "
        "server expires events after event_time_to_live by itself.",
    ),
]

EVENT_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "definitions_cfg_file",
        default=None,
        help="Event definitions YAML file (Ceilometer format). Unset: the "
        "definitions shipped with pipeline, of which "
        "etc/pipeline/event_definitions.yaml is a copy.",
    ),
    cfg.BoolOpt(
        "drop_unmatched_notifications",
        default=False,
        help="Drop notifications that no event definition matches. When "
        "False they still become events carrying the default traits.",
    ),
    cfg.ListOpt(
        "store_raw",
        default=[],
        help="Notification priorities (info, error, ...) whose whole "
        "notification is kept in the event's raw field.",
    ),
]

NOTIFICATION_OPTS: list[cfg.Opt] = [
    cfg.ListOpt(
        "exchanges",
        default=[
            # Ceilometer's notification agent's list, in its order ...
            "nova",
            "glance",
            "neutron",
            "cinder",
            "heat",
            "keystone",
            "trove",
            "zaqar",
            "swift",
            "ceilometer",
            "magnum",
            "dns",
            "ironic",
            "aodh",
            # ... and the services pipeline also reads.
            "designate",
            "octavia",
        ],
        help="Topic exchanges (one per service, as oslo.messaging names "
        "them: the service's control_exchange) whose notifications are "
        "consumed. Every consumed queue is bound on each of them. An exchange "
        "that exists is used as it is; a missing one is declared exactly as "
        "oslo.messaging would declare it with the [oslo_messaging_rabbit] "
        "settings.",
    ),
    cfg.ListOpt(
        "topics",
        default=["notifications"],
        help="Notification topics, as the services' [oslo_messaging_notifications] "
        "topics. Without a pool, pipeline reads the queue <topic>.<priority> that "
        "the services' notifiers declare and fill, exactly as Ceilometer's "
        "notification agent does. To run beside a Ceilometer that reads "
        "'notifications', give the services a topic of their own for pipeline "
        "(topics = notifications,pipeline on the services, topics = pipeline "
        "here) or set pool.",
    ),
    cfg.ListOpt(
        "priorities",
        default=["audit", "critical", "debug", "error", "info", "sample", "warn"],
        help="Notification priorities to consume (one queue <topic>.<priority> each).",
    ),
    cfg.StrOpt(
        "pool",
        default=None,
        help="oslo.messaging's listener pool: when set, pipeline reads one queue "
        "of its own with this name, bound with every <topic>.<priority> on "
        "every exchange, so it receives a copy of every notification while "
        "another program (Ceilometer) keeps reading <topic>.<priority>. The "
        "<topic>.<priority> queues then fill up unless someone reads them. "
        "Unset: read <topic>.<priority> directly.",
    ),
    cfg.ListOpt(
        "messaging_urls",
        default=[],
        secret=True,
        help="Transport URLs to read notifications from, one connection each "
        "with the same exchanges and queues (Ceilometer's option: "
        "openstack-ansible runs one vhost per service). Empty: [DEFAULT] "
        "transport_url. Log records are read from [DEFAULT] transport_url only.",
    ),
    cfg.IntOpt(
        "batch_size",
        default=500,
        min=1,
        help="Messages written to storage in one batch.",
    ),
    cfg.FloatOpt(
        "batch_timeout",
        default=1.0,
        min=0.01,
        help="Seconds to wait for a batch to fill before writing what is there.",
    ),
    cfg.IntOpt(
        "prefetch_count",
        default=0,
        min=0,
        help="Unacknowledged messages the broker may hand one consumer; 0 means twice batch_size.",
    ),
    cfg.IntOpt(
        "workers",
        default=1,
        min=1,
        help="Consumer processes started by 'pipeline consume'.",
    ),
    cfg.StrOpt(
        "dead_letter_exchange",
        default="pipeline.dlx",
        help="Exchange that receives rejected messages; they land in the "
        "durable queue dead_letter_queue with their reason in the headers.",
    ),
    cfg.StrOpt(
        "dead_letter_queue",
        default="pipeline.dead",
        help="Durable queue bound to dead_letter_exchange: every message "
        "that could not be decoded or converted, with headers "
        "x-pipeline-reason, x-original-exchange and x-original-routing-key.",
    ),
    cfg.FloatOpt(
        "max_retry_interval",
        default=30.0,
        min=0.1,
        help="Longest pause, in seconds, between attempts to write a batch "
        "while storage is unavailable (exponential back-off with jitter "
        "up to this). The broker keeps the batch's messages meanwhile.",
    ),
    cfg.IntOpt(
        "stats_interval",
        default=60,
        min=0,
        help="Seconds between the consumer's statistics log lines; 0 disables them.",
    ),
]

TICKETING_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "queue",
        default="logging",
        help="Queue of log records (logbook's MessageQueueHandler default).",
    ),
    cfg.ListOpt(
        "notification_priorities",
        default=["error", "critical"],
        help="Notifications of these priorities also become tickets.",
    ),
    cfg.StrOpt(
        "grouping",
        default="location",
        choices=[
            (
                "location",
                ("portable: channel, level, module, function, relative file name and line"),
            ),
            ("logbook", "bit-for-bit logbook's hash, for existing logbook databases"),
            (
                "template",
                ("channel, level, exception type and the message with its variable parts masked"),
            ),
        ],
        help="How log records are grouped into tickets. A record whose "
        "extra carries 'fingerprint' is always grouped by it.",
    ),
    cfg.StrOpt(
        "hash_salt",
        default=None,
        secret=True,
        help="Salt of the grouping hash; unset derives it from the app id, as logbook does.",
    ),
    cfg.StrOpt(
        "app_id",
        default="generic",
        help="Application id given to records that carry none.",
    ),
    cfg.IntOpt(
        "occurrence_time_to_live",
        default=-1,
        help="Seconds to keep ticket occurrences; ticket counts are kept. "
        "Zero or negative keeps them forever.",
    ),
]

#: oslo.messaging's own [oslo_messaging_rabbit] options that decide how its
#: notifiers and listeners declare exchanges and queues and how they connect,
#: with its names, meanings and defaults, so an operator copies the section
#: from nova.conf.
OSLO_MESSAGING_RABBIT_OPTS: list[cfg.Opt] = [
    cfg.BoolOpt(
        "amqp_durable_queues",
        default=False,
        help="Use durable queues in AMQP (oslo.messaging's option). Decides "
        "how a missing exchange or <topic>.<priority> queue is declared: set "
        "it as on the services.",
    ),
    cfg.BoolOpt(
        "amqp_auto_delete",
        default=False,
        help="Auto-delete queues in AMQP (oslo.messaging's option).",
    ),
    cfg.BoolOpt(
        "rabbit_quorum_queue",
        default=False,
        help="Use quorum queues (x-queue-type: quorum), as oslo.messaging "
        "does; implies durable exchanges and queues. Cannot be combined with "
        "rabbit_ha_queues.",
    ),
    cfg.IntOpt(
        "rabbit_quorum_delivery_limit",
        default=0,
        min=0,
        help="x-delivery-limit of the quorum queues declared (0: not set).",
    ),
    cfg.IntOpt(
        "rabbit_quorum_max_memory_length",
        default=0,
        min=0,
        help="x-max-in-memory-length of the quorum queues declared (0: not set).",
    ),
    cfg.IntOpt(
        "rabbit_quorum_max_memory_bytes",
        default=0,
        min=0,
        help="x-max-in-memory-bytes of the quorum queues declared (0: not set).",
    ),
    cfg.BoolOpt(
        "rabbit_ha_queues",
        default=False,
        help="Declare queues with x-ha-policy: all, as oslo.messaging does "
        "(mirroring itself is a broker policy since RabbitMQ 3.0).",
    ),
    cfg.IntOpt(
        "heartbeat_timeout_threshold",
        default=60,
        min=0,
        help="Seconds without a heartbeat after which the broker connection "
        "counts as dead (0 disables heartbeats).",
    ),
    cfg.BoolOpt(
        "ssl",
        default=False,
        help="Connect to the broker over TLS (amqps:// URLs always do).",
    ),
    cfg.StrOpt("ssl_ca_file", default="", help="CA certificates file to verify the broker with."),
    cfg.StrOpt("ssl_cert_file", default="", help="Client certificate file (PEM)."),
    cfg.StrOpt("ssl_key_file", default="", help="Client private key file (PEM)."),
    cfg.StrOpt(
        "ssl_version",
        default="",
        help="TLS protocol version to require (TLSv1_2, TLSv1_3); empty: the "
        "highest both sides support.",
    ),
]

API_OPTS: list[cfg.Opt] = [
    cfg.HostAddressOpt("host", default="127.0.0.1", help="Address the REST API listens on."),
    cfg.PortOpt("port", default=8977, help="Port the REST API listens on."),
    cfg.IntOpt(
        "default_api_return_limit",
        default=100,
        min=1,
        help="Items returned by a list request that gives no limit.",
    ),
    cfg.IntOpt(
        "max_api_return_limit",
        default=10000,
        min=1,
        help="Largest limit a request may ask for.",
    ),
    cfg.StrOpt(
        "auth_strategy",
        default="keystone",
        choices=[
            (
                "keystone",
                (
                    "validate each request's X-Auth-Token in-process with "
                    "keystonemiddleware's auth_token ([keystone_authtoken] options); "
                    "the tickets page signs in against Keystone"
                ),
            ),
            (
                "basic",
                (
                    "users of htpasswd_file (bcrypt hashes) are admins: HTTP Basic "
                    "for the API, a sign-in form for the tickets page"
                ),
            ),
            (
                "noauth",
                (
                    "no access control, every caller is an admin; refused on a "
                    "non-loopback host unless allow_noauth_on_any_address"
                ),
            ),
        ],
        help="How callers are authenticated. Identity headers a client sends "
        "(X-User-Id, X-Roles, ...) are never trusted: with keystone only what "
        "auth_token derives from a valid token counts.",
    ),
    cfg.StrOpt(
        "htpasswd_file",
        default=None,
        help="auth_strategy = basic: an htpasswd file of user:bcrypt-hash lines "
        "(htpasswd -B); every user in it is an admin. Re-read when it changes.",
    ),
    cfg.BoolOpt(
        "allow_noauth_on_any_address",
        default=False,
        help="Let auth_strategy = noauth serve on a non-loopback host; "
        "everyone who can reach the port can then read and delete everything.",
    ),
    cfg.StrOpt(
        "session_secret",
        default=None,
        secret=True,
        help="Key that encrypts and signs the tickets page's session cookies "
        "and CSRF tokens: a long random string, the same on every API process "
        "behind one address. Unset: a random key per process, so sessions end "
        "when it restarts.",
    ),
    cfg.IntOpt(
        "session_lifetime",
        default=3600,
        min=60,
        help="Seconds a tickets page session lasts; a Keystone session also "
        "ends when its token expires.",
    ),
]


METRICS_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "listen",
        default="127.0.0.1:9464",
        help="host:port on which 'pipeline consume' serves Prometheus metrics "
        "(/metrics) and its health probes (/healthz, /readyz), one endpoint "
        "for all its worker processes. Empty turns metrics and probes off. A "
        "port already in use stops start-up. IPv6: [::1]:9464.",
    ),
    cfg.StrOpt(
        "api_listen",
        default="",
        help="host:port on which 'pipeline api' serves /metrics instead of "
        "on the API's own port (keep the metrics off a public port). Empty: "
        "/metrics is served on the API port, without authentication. The "
        "API's /healthz and /readyz stay on the API port either way.",
    ),
    cfg.FloatOpt(
        "backlog_interval",
        default=5.0,
        min=0.5,
        help="Seconds between two looks at the consumed queues' depth "
        "(a passive declare on the consumer's own connection; never a "
        "second consumer).",
    ),
    cfg.FloatOpt(
        "ready_timeout",
        default=2.0,
        min=0.1,
        help="Seconds the storage may take to answer a readiness probe "
        "(/readyz) before the service counts as not ready. Give the "
        "prober (Kubernetes timeoutSeconds) a little more.",
    ),
    cfg.IntOpt(
        "event_type_labels",
        default=100,
        min=0,
        help="Event types each consumer process counts under their own "
        "name in pipeline_events_stored_total (the first ones it stores); "
        "further types are counted as 'other', so the number of series "
        "stays bounded. Workers see the same traffic, so they name the same "
        "types as long as there are fewer than this.",
    ),
    cfg.StrOpt(
        "multiprocess_dir",
        default=None,
        help="Directory where the consumer processes keep their metric "
        "files (prometheus_client's multiprocess mode). Its *.db files are "
        "deleted at start. Unset: a fresh temporary directory, removed at "
        "exit.",
    ),
]


def list_keystone_authtoken_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The password plugin's ``[keystone_authtoken]`` options, for the sample.

    keystonemiddleware lists its own options (namespace
    ``keystonemiddleware.auth_token``) but not those of the auth plugin it
    loads to talk to Keystone; ``auth_type = password`` is the usual one.
    keystoneauth1 is imported here only, when the sample is generated.
    """
    from keystoneauth1 import loading

    return [("keystone_authtoken", loading.get_auth_plugin_conf_options("password"))]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Return ``(group, options)`` pairs for registration and the sample."""
    return [
        ("DEFAULT", DEFAULT_OPTS),
        ("database", DATABASE_OPTS),
        ("event", EVENT_OPTS),
        ("notification", NOTIFICATION_OPTS),
        ("ticketing", TICKETING_OPTS),
        ("api", API_OPTS),
        ("metrics", METRICS_OPTS),
        ("oslo_messaging_rabbit", OSLO_MESSAGING_RABBIT_OPTS),
    ]
