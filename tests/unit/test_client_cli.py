"""``bonito-logs emit``: exit codes and messages (no broker needed)."""

from __future__ import annotations

import uuid
from pathlib import Path

from bonito_logs.cli import build_parser
from bonito_logs.client import cli as emit_cli
from tests.unit.test_client_fakes import unit_settings

ORG = str(uuid.uuid4())


def run(argv: list[str], settings) -> int:
    args = build_parser().parse_args(argv)
    return emit_cli.run(args, settings)


def test_bad_input_names_field_and_rule_exit_2(tmp_path, capsys):
    settings = unit_settings(tmp_path)
    code = run(["emit", "--org", ORG, "--type", "gateway", "--event", "request",
                "--severity", "loud"], settings)
    out = capsys.readouterr()
    assert code == 2
    assert out.out == ""
    assert "severity: must be one of debug, info, warn, error, critical" in out.err
    assert not Path(settings.spool_path).exists()  # nothing was queued


def test_bad_json_and_numbers_exit_2(tmp_path, capsys):
    code = run(["emit", "--org", ORG, "--type", "gateway", "--event", "request",
                "--severity", "info", "--metadata", "{oops", "--duration-ms", "fast"],
               unit_settings(tmp_path))
    err = capsys.readouterr().err
    assert code == 2
    assert "metadata: must be a JSON object" in err
    assert "duration_ms: must be a number" in err


def test_metadata_must_be_an_object(tmp_path, capsys):
    code = run(["emit", "--org", ORG, "--type", "kb", "--event", "search", "--severity", "info",
                "--metadata", "[1, 2]"], unit_settings(tmp_path))
    assert code == 2
    assert "metadata: must be a JSON object" in capsys.readouterr().err


def test_kafka_unreachable_exit_1_and_record_spooled(tmp_path, capsys):
    settings = unit_settings(tmp_path)
    code = run(["emit", "--org", ORG, "--type", "auth", "--event", "login", "--severity", "info",
                "--message", "hi", "--user-id", "u-1", "--trace-id", "t-1", "--cost", "0.5",
                "--duration-ms", "12", "--metadata", '{"ip": "10.1.2.3"}', "--timeout", "0.5"],
               settings)
    out = capsys.readouterr()
    assert code == 1
    record_id = out.out.strip()
    assert uuid.UUID(record_id)
    assert "did not acknowledge" in out.err and "spooled" in out.err
    assert str(settings.spool_path) in out.err
    assert list(Path(settings.spool_path).glob("*/*.seg"))
