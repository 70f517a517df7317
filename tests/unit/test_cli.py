"""The privlog command."""

from __future__ import annotations

from pathlib import Path

import pytest

from privlog._cli import main

from ..support.policies import SECRET

EXAMPLES = Path(__file__).parents[2] / "examples"


class TestPolicyCheck:
    def test_prints_what_each_stream_records(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
        assert main(["policy", "check", str(EXAMPLES / "security-90-days.toml")]) == 0
        out = capsys.readouterr().out
        assert "valid" in out
        assert "retention 'security': 90 days" in out
        assert "client_ip       hash" in out
        assert "skipped for Sec-GPC/DNT opt-outs" in out
        assert SECRET not in out

    def test_a_bad_policy_exits_2_naming_the_setting(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        bad = tmp_path / "p.toml"
        bad.write_text(
            '[retention.a]\ndays = 0\npurpose = "x"\nlegal_basis = "y"\n'
            '[streams.s]\nretention = "a"\nfields = { status = "keep" }\n'
        )
        assert main(["policy", "check", str(bad)]) == 2
        assert "retention.a.days: must be a positive whole number" in capsys.readouterr().err

    def test_secret_prints_a_strong_secret(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["secret"]) == 0
        assert len(capsys.readouterr().out.strip()) >= 64


class TestSchema:
    def test_clickhouse_ddl_expires_rows_by_their_retention_tag(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["schema", "clickhouse", "--table", "logs", "--default-days", "7"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("CREATE TABLE IF NOT EXISTS `logs`")
        assert "privlog.retention.days" in out
        assert "TTL" in out
        assert out.rstrip().endswith(";")
