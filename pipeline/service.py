"""Process start-up: one fresh ConfigOpts with every option registered."""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Sequence

from oslo_config import cfg

from pipeline import __version__, opts
from pipeline.exceptions import ConfigError

LOG = logging.getLogger(__name__)


def register_opts(conf: cfg.ConfigOpts) -> cfg.ConfigOpts:
    """Register every pipeline option on ``conf`` and return it."""
    for group, options in opts.list_opts():
        conf.register_opts(options, group=None if group == "DEFAULT" else group)
    return conf


def prepare_service(
    argv: Sequence[str] | None = None,
    config_files: Sequence[str] | None = None,
) -> cfg.ConfigOpts:
    """Build and parse a new ConfigOpts.

    ``argv`` holds command-line options only (no program name); None means
    none, so library callers never read ``sys.argv`` by surprise.
    ``config_files`` overrides the default search (``--config-file`` in
    ``argv`` still wins). No global configuration object is used.
    """
    conf = register_opts(cfg.ConfigOpts())
    conf(
        list(argv or []),
        project="pipeline",
        version=__version__,
        default_config_files=list(config_files) if config_files is not None else None,
        default_config_dirs=[] if config_files is not None else None,
    )
    return conf


_HANDLER_NAME = "pipeline"
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"


def setup_logging(debug: bool = False, log_file: str | None = None) -> None:
    """Log to ``log_file``, else to stderr (journald picks it up under systemd).

    May be called again (``pipeline`` calls it once the configuration is
    read, which may name a log file); the handler installed before is
    replaced. Like :func:`logging.basicConfig`, it leaves alone a logging
    setup made by someone else (an embedding application, a test runner)
    unless a log file is asked for. An unwritable file raises ConfigError.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == _HANDLER_NAME]
    handler: logging.Handler | None = None
    if log_file:
        try:
            # Reopens the file when logrotate (or a person) moves it away.
            handler = logging.handlers.WatchedFileHandler(log_file)
        except OSError as err:
            raise ConfigError(f"log_file {log_file}: {err}") from err
    elif ours or not root.handlers:
        handler = logging.StreamHandler()
    if handler is None:
        return
    for old in ours:
        root.removeHandler(old)
        old.close()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # Alembic announces every plugin it loads at INFO on each start; only
    # its migration messages are worth an operator's attention.
    logging.getLogger("alembic.runtime.plugins").setLevel(
        logging.DEBUG if debug else logging.WARNING
    )
