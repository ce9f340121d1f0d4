"""Process start-up: one fresh ConfigOpts with every option registered."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from oslo_config import cfg

from pipeline import __version__, opts

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


def setup_logging(debug: bool = False) -> None:
    """Log to stderr (journald picks it up under systemd)."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s",
    )
