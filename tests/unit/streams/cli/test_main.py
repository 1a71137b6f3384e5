import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli.main import main

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["stack"], ["stack", "sideways"], ["stack", "up", "--colour"], ["demo", "--events", "-3"]],
)
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("driftline: ")
    assert len(err.strip().splitlines()) == 1


def test_a_bad_environment_value_is_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRIFTLINE_WEB_PORT", "web")
    assert main(["stack", "status"]) == 2
    assert "DRIFTLINE_WEB_PORT" in capsys.readouterr().err


def test_the_console_script_is_installed_and_prints_no_traceback() -> None:
    result = subprocess.run([DRIFTLINE, "nope"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_stack_refuses_a_remote_address(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRIFTLINE_KAFKA_BOOTSTRAP", "10.1.2.3:9092")
    assert main(["stack", "up"]) == 1
    assert "runs only on 127.0.0.1" in capsys.readouterr().err


def test_a_log_level_is_taken_in_any_case() -> None:
    from streams.cli.main import build_parser

    assert build_parser().parse_args(["worker", "--loglevel", "info"]).loglevel == "INFO"
