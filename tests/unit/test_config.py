"""Configuration: options register, files parse, the checked-in sample is current."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from pipeline.service import prepare_service

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_defaults_need_no_config_file() -> None:
    conf = prepare_service([], config_files=[])
    assert conf.database.connection == "sqlite:///pipeline.sqlite"
    assert conf.database.event_time_to_live == -1
    assert conf.notification.batch_size == 500
    assert conf.ticketing.grouping == "location"


def test_config_file_overrides_defaults(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "pipeline.conf"
    path.write_text("[database]\nconnection = postgresql://u:p@db/x\nevent_time_to_live = 60\n")
    conf = prepare_service(["--config-file", str(path)])
    assert conf.database.connection == "postgresql://u:p@db/x"
    assert conf.database.event_time_to_live == 60


def test_connection_urls_are_secret() -> None:
    conf = prepare_service([], config_files=[])
    assert conf._opts["transport_url"]["opt"].secret
    assert conf["database"]._group._opts["connection"]["opt"].secret


def test_checked_in_sample_is_current(tmp_path: pathlib.Path) -> None:
    """Fails when an option changed without regenerating the sample (tox -e genconfig)."""
    out = tmp_path / "sample.conf"
    subprocess.run(
        [sys.executable, "-m", "oslo_config.generator",
         "--config-file", str(ROOT / "etc/pipeline/pipeline-config-generator.conf"),
         "--output-file", str(out)],
        check=True, cwd=ROOT,
    )
    checked_in = (ROOT / "etc/pipeline/pipeline.conf.sample").read_text()
    assert out.read_text() == checked_in, "run: tox -e genconfig (or oslo-config-generator --config-file etc/pipeline/pipeline-config-generator.conf)"


def test_api_and_keystone_secrets_are_secret() -> None:
    from pipeline import opts

    api = {opt.name: opt for opt in opts.API_OPTS}
    assert api["session_secret"].secret
    authtoken = {opt.name: opt for _, group in opts.list_keystone_authtoken_opts() for opt in group}
    assert authtoken["password"].secret
    from keystonemiddleware.auth_token import _opts

    middleware = {opt.name: opt for _, group in _opts.list_opts() for opt in group}
    assert middleware["memcache_secret_key"].secret and middleware["memcache_password"].secret
