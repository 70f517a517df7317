"""``privlog init --preset``: commented starter policies; ``policy check`` warns about raw personal data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from privlog._cli import main
from privlog._cli.init import PRESETS
from privlog._policy.advice import raw_data_warnings
from privlog._policy.catalogue import FIELDS
from privlog._policy.model import Policy

from ..support.policies import policy_dict

ENV = {"PRIVLOG_SECRET": "s" * 20 + "0123456789abcdefghij"}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_preset_is_the_shipped_policy_with_comments(
    preset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "privlog.toml"
    assert main(["init", "--preset", preset, "--output", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    written = Policy.from_toml(target, environ=ENV)
    shipped = Policy.from_toml(
        Path(str(resources.files("privlog") / "policies" / f"{PRESETS[preset][0]}.toml")), environ=ENV
    )
    assert written.streams == shipped.streams
    assert written.retention == shipped.retention
    assert written.service == "my-service"
    text = target.read_text(encoding="utf-8")
    assert "seed" not in text.lower()
    lines = text.splitlines()
    for i, line in enumerate(lines):  # every field line has what it records just above it
        name = line.split("=", 1)[0].strip()
        if name in FIELDS and "=" in line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), line


def test_init_does_not_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "privlog.toml"
    target.write_text("mine")
    assert main(["init", "--preset", "security", "--output", str(target)]) == 1
    assert target.read_text() == "mine"
    assert "--force" in capsys.readouterr().err
    assert main(["init", "--preset", "security", "--output", str(target), "--force"]) == 0
    assert target.read_text() != "mine"


def _warnings(**fields: Any) -> list[str]:
    data = policy_dict(**fields)
    return raw_data_warnings(Policy.from_dict(data, environ=ENV))


@pytest.mark.parametrize("name", [n for n, s in FIELDS.items() if "keep" in s.actions and len(s.actions) > 1])
def test_keeping_a_field_privlog_could_protect_is_a_warning(name: str) -> None:
    (warning,) = _warnings(**{name: "keep"})
    assert warning.startswith(f'streams.access.fields.{name} = "keep" stores the raw value')
    assert f'use "{FIELDS[name].default}"' in warning


@pytest.mark.parametrize("name", sorted(set(FIELDS) - {"location"}))  # location needs a database file
def test_the_default_action_is_no_warning(name: str) -> None:
    assert _warnings(**{name: FIELDS[name].default}) == []


def test_a_long_prefix_and_a_raw_header_are_warnings() -> None:
    data = policy_dict(client_ip={"action": "truncate", "ipv4_prefix": 32, "ipv6_prefix": 48})
    data["streams"]["access"]["headers"] = {
        "x-request-id": {"action": "keep", "pattern": "uuid"},
        "x-tenant": "pseudonymise",
        "x-plan": {"action": "keep", "pattern": ["free", "pro"]},  # a list of values: no warning
    }
    warnings = raw_data_warnings(Policy.from_dict(data, environ=ENV))
    assert warnings == [
        "streams.access.fields.client_ip.ipv4_prefix = 32 keeps enough of the address to identify a connection. Fix: 24 or less",
        'streams.access.headers.x-request-id = "keep" stores the raw header value, which can carry an identifier. '
        'Fix: use "pseudonymise" (or "pseudonymize") unless the value says nothing about a person',
    ]


def test_policy_check_prints_the_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[retention.a]\ndays = 7\npurpose = "x"\nlegal_basis = "y"\n'
        '[streams.s]\nretention = "a"\nfields = { client_ip = "keep", status = "keep" }\n'
    )
    assert main(["policy", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 warning(s): raw personal data is kept" in out
    assert 'warning: streams.s.fields.client_ip = "keep"' in out


def test_the_anonymous_preset_has_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "privlog.toml"
    assert main(["init", "--preset", "anonymous-access", "--output", str(target)]) == 0
    assert main(["policy", "check", str(target)]) == 0
    assert "warning" not in capsys.readouterr().out
