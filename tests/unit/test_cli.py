"""The privlog command."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from privlog import Policy
from privlog._cli import build_parser, main
from privlog._cli.progress import Progress
from privlog._core.record import Output
from privlog._keys.store import KeyStore
from privlog._ops.subject import subject_matches
from privlog.sinks.jsonl import JsonlStore

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
        assert main(["policy", "check", str(bad)]) == 3
        err = capsys.readouterr().err
        assert err.startswith("privlog: invalid policy: retention.a.days: must be a positive whole number")

    def test_a_keyed_policy_is_checked_without_its_secret(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Validating needs no key: CI can check the policy file without the production secret."""
        monkeypatch.delenv("PRIVLOG_SECRET", raising=False)
        monkeypatch.delenv("PRIVLOG_SECRET_FILE", raising=False)
        monkeypatch.delenv("PRIVLOG_KEY_STORE", raising=False)
        assert main(["policy", "check", str(EXAMPLES / "security-90-days.toml")]) == 0
        out = capsys.readouterr().out
        assert "valid" in out
        assert "not set here" in out
        assert "key id" not in out  # nothing was derived from the placeholder

    def test_a_keyed_policy_still_reports_a_bad_setting_without_its_secret(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("PRIVLOG_SECRET", raising=False)
        bad = tmp_path / "p.toml"
        bad.write_text(
            '[retention.a]\ndays = 7\npurpose = "x"\nlegal_basis = "y"\n'
            '[streams.s]\nretention = "a"\nfields = { client_ip = "hash", user_idd = "hash" }\n'
        )
        assert main(["policy", "check", str(bad)]) == 3
        assert "user_idd" in capsys.readouterr().err

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


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, (*path, name))


class TestHelp:
    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        import privlog

        with pytest.raises(SystemExit) as exit_:
            main(["--version"])
        assert exit_.value.code == 0
        assert privlog.__version__ in capsys.readouterr().out

    @pytest.mark.parametrize("path", [p for p, _ in _subcommands(build_parser())], ids=" ".join)
    def test_every_command_describes_itself_and_every_argument(self, path: tuple[str, ...]) -> None:
        parser = dict(_subcommands(build_parser()))[path]
        assert parser.description, f"privlog {' '.join(path)} has no description"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"{choice.dest} has no help"
            else:
                assert action.help, f"privlog {' '.join(path)}: {action.option_strings or action.dest} has no help"

    def test_exit_codes_are_listed_in_the_main_help(self) -> None:
        text = build_parser().format_help()
        for code in ("0  success", "3  invalid policy", "4  configuration problem"):
            assert code in text


class TestErrors:
    def test_an_existing_key_store_is_a_configuration_error_not_a_policy_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        KeyStore.init(tmp_path, "daily", 30)
        assert main(["keys", "init", str(tmp_path)]) == 4
        err = capsys.readouterr().err
        assert err.startswith("privlog: configuration: ")
        assert "invalid policy" not in err

    def test_keys_status_without_a_directory_is_a_usage_error(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("PRIVLOG_KEY_STORE", raising=False)
        assert main(["keys", "status"]) == 2
        assert capsys.readouterr().err.startswith("privlog: usage: DIR: no key store given")

    def test_an_unreadable_file_is_an_io_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        folder = tmp_path / "policy.toml"
        folder.mkdir()
        assert main(["policy", "check", str(folder)]) == 5
        err = capsys.readouterr().err
        assert err.startswith(f"privlog: {folder}: ")
        assert "invalid policy" not in err


class TestSweepDryRun:
    def test_lists_expired_files_and_keeps_them(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        JsonlStore(tmp_path, {"access": 7}).close()
        old = tmp_path / "access" / "2001-01-01.jsonl"
        old.write_text("{}\n")
        assert main(["retention", "sweep", "--dry-run", str(tmp_path)]) == 0
        assert old.exists()
        assert f"would delete {old}" in capsys.readouterr().out


class TestSubject:
    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """A JSONL store with two of alice's records and one of someone else's."""
        monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
        monkeypatch.delenv("PRIVLOG_KEY_STORE", raising=False)
        policy = Policy.from_toml(EXAMPLES / "security-90-days.toml")
        (alice,) = [m for m in subject_matches(policy, user_id="alice") if m.attribute == "user.id"]
        import time

        now = time.time_ns()
        store = JsonlStore(tmp_path / "logs", {"security": 90})
        mine = {alice.attribute: alice.value, "privlog.key_id": alice.key_id}
        other = {alice.attribute: "someone-else", "privlog.key_id": alice.key_id}
        store.write([Output("security", 90, now, mine), Output("security", 90, now, other), Output("security", 90, now, mine)])
        store.close()
        return tmp_path / "logs"

    def _run(self, store: Path, *extra: str) -> int:
        return main(["subject", "--policy", str(EXAMPLES / "security-90-days.toml"), "--user-id", "alice", "--store", str(store), *extra])

    def _lines(self, store: Path) -> int:
        return sum(len(p.read_bytes().splitlines()) for p in store.rglob("*.jsonl"))

    def test_finds_without_deleting(self, store: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert self._run(store) == 0
        captured = capsys.readouterr()
        assert "found 2 record(s)" in captured.out
        assert self._lines(store) == 3
        assert "searching" not in captured.err  # no progress when not on a terminal

    def test_delete_without_a_terminal_needs_yes(self, store: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert self._run(store, "--delete") == 2
        assert "--yes" in capsys.readouterr().err
        assert self._lines(store) == 3

    def test_delete_with_yes_removes_only_the_subjects_records(self, store: Path) -> None:
        assert self._run(store, "--delete", "--yes") == 0
        assert self._lines(store) == 1

    @pytest.mark.parametrize(("answer", "code", "left"), [("n\n", 6, 3), ("yes\n", 0, 1)])
    def test_delete_asks_on_a_terminal(
        self, store: Path, monkeypatch: pytest.MonkeyPatch, answer: str, code: int, left: int
    ) -> None:
        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        monkeypatch.setattr("sys.stdin", Terminal(answer))
        assert self._run(store, "--delete") == code
        assert self._lines(store) == left


class TestProgress:
    def test_draws_on_a_terminal_only(self) -> None:
        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        tty, pipe = Terminal(), io.StringIO()
        for stream in (tty, pipe):
            bar = Progress("searching", 2048, stream)
            bar.advance(2048)
            bar.close()
        assert "searching: 100% 2.0 KB of 2.0 KB" in tty.getvalue()
        assert pipe.getvalue() == ""
