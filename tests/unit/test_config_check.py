"""``pipeline config check``: exit 2 with a reason for a bad file, a masked plan for a good one."""

from __future__ import annotations

import pathlib
import re

import pytest

from pipeline import cli, storage
from tests.servers import unavailable


def _check(tmp_path: pathlib.Path, text: str, capsys: pytest.CaptureFixture[str]
           ) -> tuple[int, str, str]:
    path = tmp_path / "pipeline.conf"
    path.write_text(text)
    status = cli.main(["config", "check", "--config-file", str(path)])
    out, err = capsys.readouterr()
    return status, out, err


GOOD = """\
[DEFAULT]
transport_url = amqp://guest:bus-secret@rabbit:5672//
[database]
connection = postgresql://pipeline:db-secret@db/pipeline
event_time_to_live = 86400
[notification]
exchanges = nova,glance
batch_size = 100
[ticketing]
hash_salt = salt-secret
"""


def test_a_valid_file_prints_the_plan_with_every_secret_masked(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _check(tmp_path, GOOD, capsys)
    assert status == 0, err
    assert "postgresql://pipeline:****@db/pipeline" in out
    assert "amqp://guest:****@rabbit:5672//" in out
    assert "secret" not in out + err
    # the 7 priorities of the one default topic, each bound on both exchanges
    assert (
        "oslo.messaging's queues notifications.audit, notifications.critical, "
        "notifications.debug, notifications.error, notifications.info, notifications.sample, "
        "notifications.warn bound on 2 topic exchanges (nova, glance)"
    ) in out
    assert "durable=False, auto_delete=False, arguments={}" in out
    assert "100 messages or 1.0 s per write; prefetch 200" in out
    # host 'rabbit' does not resolve here: a warning, not an error
    assert "could not check the exchanges and queues: broker amqp://guest:**@rabbit" in err
    assert "log records from queue 'logging'" in out
    assert "deletes events older than 86400 s" in out
    assert out.rstrip().endswith("configuration is valid")


def test_an_unknown_option_is_an_error_with_a_suggestion(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _check(tmp_path, "[database]\nconection = sqlite://\n", capsys)
    assert status == 2
    assert "unknown option 'conection' in [database] (did you mean 'connection'?)" in err


def test_a_value_of_the_wrong_type_is_an_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _check(tmp_path, "[notification]\nbatch_size = lots\n", capsys)
    assert status == 2
    assert "invalid value for [notification] batch_size" in err


def test_another_programs_section_is_only_a_warning(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _check(tmp_path, "[service_credentials]\nauth_url = http://ks\n", capsys)
    assert status == 0, err
    assert "warning:" in err and "[service_credentials] is not read by pipeline" in err


def test_the_api_libraries_sections_are_read(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "[keystone_authtoken]\nauth_type = password\n[oslo_policy]\npolicy_file = p.yaml\n"
    status, _, err = _check(tmp_path, text, capsys)
    assert status == 0, err
    assert "keystone_authtoken" not in err and "oslo_policy" not in err


def test_a_storage_scheme_without_a_driver_is_an_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _check(tmp_path, "[database]\nconnection = cassandra://u:pw@h/x\n", capsys)
    assert status == 2
    assert "cassandra://u:****@h/x" in err and "no storage driver for scheme 'cassandra'" in err
    assert ":pw@" not in err


def test_a_driver_without_tickets_is_reported(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "jsonl" not in storage.installed_drivers():
        unavailable("plugin pipeline-jsonl", "not installed (pip install ./tests/plugins/*)")
    status, out, err = _check(tmp_path, f"[database]\nconnection = jsonl://{tmp_path}/s\n", capsys)
    assert status == 0, err
    assert "capabilities: event_expiry, events)" in out
    assert "driver 'jsonl' stores no tickets" in err


def test_broken_event_definitions_are_an_error_with_file_line_and_column(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definitions = tmp_path / "event_definitions.yaml"
    definitions.write_text(
        "- event_type: compute.instance.*\n"
        "  traits:\n"
        "    memory_mb:\n"
        "      type: integerish\n"
        "      fields: payload.memory_mb\n"
    )
    status, _, err = _check(tmp_path, f"[event]\ndefinitions_cfg_file = {definitions}\n", capsys)
    assert status == 2
    assert re.search(rf"{re.escape(str(definitions))}:\d+:\d+", err), err


def test_the_metrics_listener_is_in_the_plan_and_a_bad_address_is_an_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _check(tmp_path, "[metrics]\nlisten = 0.0.0.0:9500\n", capsys)
    assert status == 0, err
    assert "metrics:" in out and "consume: http://0.0.0.0:9500/metrics" in out
    status, _, err = _check(tmp_path, "[metrics]\napi_listen = 9500\n", capsys)
    assert status == 2
    assert "[metrics] api_listen = '9500': expected host:port" in err
