"""Bad command-line options: exit 2 (usage), a message naming the option and the fix, never a value.

Exit codes as the README lists them: 2 wrong arguments, 5 a file that cannot be read or written.
An option error is a UsageError, not a PolicyError (3 is for a policy that is invalid).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from privlog._cli import main

from ..support.policies import SECRET

EXAMPLES = Path(__file__).parents[2] / "examples"
KEYED = str(EXAMPLES / "security-90-days.toml")
ACCESS = str(EXAMPLES / "access-7-days.toml")
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
    monkeypatch.delenv("PRIVLOG_KEY_STORE", raising=False)


def usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the command; it must exit 2 with a usage message that says how to fix it."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("privlog: usage: ")
    assert ". Fix: " in err
    return err


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["anonymize", "--policy", ACCESS, "--format", "nginx"], ["--format: unknown format", "nginx-combined"]),
        (["anonymize", "--policy", ACCESS, "--format", "regex:(?P<cleint>\\S+)"], ["--format: unknown group", "(?P<client>"]),
        (["anonymize", "--policy", ACCESS, "--format", "regex:(\\S+"], ["--format: not a valid regex"]),
        (["anonymize", "--policy", ACCESS, "--stream", "acess"], ["--stream: the policy has no stream", "did you mean 'access'"]),
        (["audit"], ["privlog audit: no source given", "STORE, --clickhouse URL or --chdb PATH"]),
        (["audit", "store", "--chdb", "db"], ["privlog audit: more than one source given"]),
        (["audit", "--clickhouse", "localhost:8123"], ["--clickhouse: is not an HTTP URL", "http://localhost:8123"]),
        (["retention", "sweep", "--clickhouse", "localhost:8123"], ["--clickhouse: is not an HTTP URL"]),
        (["retention", "sweep"], ["no store given", "--clickhouse URL"]),
        (["hold", "add", "--policy", KEYED, "--reason", "r", "--until", NEXT_YEAR], ["no identifier given", "--user-id"]),
        (["hold", "add", "--policy", KEYED, "--reason", "r", "--until", "2001-02-03", "--user-id", "a"], ["--until: 2001-02-03 is in the past"]),
    ],
)
def test_a_bad_option_exits_2_naming_it_and_the_fix(
    capsys: pytest.CaptureFixture[str], argv: list[str], names: list[str]
) -> None:
    err = usage_error(capsys, argv)
    for name in names:
        assert name in err


@pytest.mark.parametrize(
    "argv",
    [
        ["subject", "--policy", KEYED, "--ip", "203.0.113.999"],
        ["hold", "add", "--policy", KEYED, "--reason", "r", "--until", NEXT_YEAR, "--ip", "203.0.113.999"],
    ],
)
def test_a_bad_address_is_a_usage_error_that_does_not_repeat_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    err = usage_error(capsys, [*argv, "--store", str(tmp_path)])
    assert "--ip: is not an IP address" in err
    assert "203.0.113.999" not in err
    assert not list(tmp_path.iterdir())  # no hold placed, nothing searched


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["hold", "add", "--policy", KEYED, "--reason", "r", "--user-id", "a", "--until", "next week"], "argument --until: 'next week' is not a day: give it as YYYY-MM-DD"),
        (["policy", "explain", ACCESS, "--lang", "xx"], "argument --lang: invalid choice: 'xx'"),
        (["anonymize", "--policy", ACCESS, "--output", "csv"], "argument --output: invalid choice: 'csv'"),
    ],
)
def test_argparse_names_the_option_and_its_choices(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize("which", ["input", "output"])
def test_anonymize_names_a_file_it_cannot_open_and_exits_5(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, which: str
) -> None:
    missing = tmp_path / "no-such-folder" / "access.log"
    present = tmp_path / "access.log"
    present.write_text("")
    files = [str(missing), "-o", str(tmp_path / "out.log")] if which == "input" else [str(present), "-o", str(missing)]
    assert main(["anonymize", "--policy", ACCESS, *files]) == 5
    err = capsys.readouterr().err
    assert f"privlog: {missing}: No such file or directory" in err
    assert not (tmp_path / "out.log").exists()


def test_an_unreachable_clickhouse_is_a_read_failure_not_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--clickhouse", "http://127.0.0.1:9"]) == 5
    assert "privlog audit: the table could not be read" in capsys.readouterr().err
