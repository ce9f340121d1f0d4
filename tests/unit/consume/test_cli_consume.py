"""``pipeline consume`` refuses a bad configuration before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main


def test_bad_definitions_file_fails_at_once_with_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definitions = tmp_path / "defs.yaml"
    definitions.write_text("- event_type: [unclosed\n")
    config = tmp_path / "pipeline.conf"
    config.write_text(
        "[DEFAULT]\ntransport_url = memory://\n"
        "[database]\nconnection = memory://\n"
        f"[event]\ndefinitions_cfg_file = {definitions}\n"
    )
    status = main(["--config-file", str(config), "consume", "--workers", "3"])
    assert status == 2
    assert "defs.yaml" in capsys.readouterr().err


def test_consume_is_a_registered_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["consume", "--help"])
    assert exit_info.value.code == 0
    assert "--workers" in capsys.readouterr().out
