"""``privlog policy diff``: each kind of change, told as what it means for the people logged, and the exit codes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from privlog._cli import main
from privlog._notice.diff import HEADER_PROTECTION, PROTECTION, diff
from privlog._notice.locale import languages, load
from privlog._policy.catalogue import FIELDS, HEADER_ACTIONS
from privlog._policy.model import Policy

from ..support.policies import policy_dict

ENV = {"PRIVLOG_SECRET": "s" * 20 + "0123456789abcdefghij"}


def _base() -> dict[str, Any]:
    data = policy_dict(
        timestamp="keep",
        path="template",
        status="keep",
        client_ip={"action": "truncate", "ipv4_prefix": 16, "ipv6_prefix": 32},
        user_id="pseudonymise",
        query={"action": "allowlist", "allow": ["page"], "values": []},
    )
    data["export"] = {"sink": "jsonl"}
    return data


def _changes(change: Any, lang: str = "en") -> list[tuple[str, str]]:
    old = _base()
    new = copy.deepcopy(old)
    change(new)
    result = diff(Policy.from_dict(old, environ=ENV), Policy.from_dict(new, environ=ENV), load(lang))
    return [(c.direction, c.text) for c in result.changes]


def _fields(d: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = d["streams"]["access"]["fields"]
    return fields


CASES = [
    (
        "longer retention",
        lambda d: d["retention"]["access"].update(days=30),
        "more",
        "kept longer: at most 30 days instead of 7 days",
    ),
    (
        "shorter retention",
        lambda d: d["retention"]["access"].update(days=3),
        "less",
        "shorter time: at most 3 days instead of 7 days",
    ),
    (
        "a new field",
        lambda d: _fields(d).update(user_agent="keep"),
        "more",
        "now also records the full identification string your browser sends",
    ),
    ("a field dropped", lambda d: _fields(d).pop("status"), "less", "no longer records the access status"),
    (
        "a weaker address",
        lambda d: _fields(d).update(client_ip="keep"),
        "more",
        "Weaker protection in the access log: it recorded your IP address, shortened",
    ),
    (
        "a longer prefix",
        lambda d: _fields(d).update(client_ip={"action": "truncate", "ipv4_prefix": 24, "ipv6_prefix": 32}),
        "more",
        "now it records your IP address, shortened to its first three of four parts",
    ),
    (
        "a shorter prefix",
        lambda d: _fields(d).update(client_ip={"action": "truncate", "ipv4_prefix": 8, "ipv6_prefix": 32}),
        "less",
        "Stronger protection",
    ),
    (
        "a reversible id",
        lambda d: _fields(d).update(user_id="reversible"),
        "more",
        "encrypted so that only we can re-identify it",
    ),
    (
        "a hashed address",
        lambda d: _fields(d).update(client_ip="hash"),
        "more",
        "now it records a pseudonym of your IP address",
    ),
    ("full paths", lambda d: _fields(d).update(path="keep"), "more", "including any identifiers it contains"),
    (
        "query values kept",
        lambda d: _fields(d).update(
            query={"action": "allowlist", "allow": ["page"], "values": {"page": "int"}}
        ),
        "more",
        "the values of “page” (only a whole number of up to six digits) are recorded",
    ),
    (
        "a new header",
        lambda d: d["streams"]["access"].update(
            headers={"x-request-id": {"action": "keep", "pattern": "uuid"}}
        ),
        "more",
        "now also records the value of the “x-request-id” header",
    ),
    ("a new recipient", lambda d: d["export"].update(sink="both"), "more", "Records go to a new recipient"),
    ("a local store only", lambda d: d["export"].update(sink="jsonl"), None, None),
    ("the consent gate removed", lambda d: d["streams"]["access"].update(consent_gated=False), None, None),
    (
        "auth events",
        lambda d: d["streams"]["access"].update(events=["http", "websocket", "auth"]),
        "more",
        "now also records each sign-in",
    ),
    (
        "a new purpose",
        lambda d: d["retention"]["access"].update(purpose="marketing"),
        "more",
        "changes from “operations” to “marketing”",
    ),
    (
        "a new legal basis",
        lambda d: d["retention"]["access"].update(legal_basis="consent"),
        "more",
        "legal basis of the access log changes",
    ),
    (
        "a new stream",
        lambda d: d["streams"].update(extra={"retention": "access", "fields": {"client_ip": "keep"}}),
        "more",
        "A new log, “extra”, records each request to our website and each live connection (WebSocket), keeps each record at most 7 days",
    ),
    ("a key rotated never", lambda d: d.update(secret={"rotation": "never"}), None, None),
    (
        "daily keys",
        lambda d: d.update(secret={"rotation": "daily"}),
        "less",
        "Pseudonyms stay linkable for a shorter time",
    ),
    (
        "counted from the last visit",
        lambda d: d["retention"]["access"].update({"from": "last_visit", "subject": "user_id"}),
        "more",
        "now kept until 7 days after your last visit (your last visit while signed in to your account)",
    ),
    ("counts", lambda d: d.update(metrics={"enabled": True}), "more", "Anonymous counts are now kept"),
]


@pytest.mark.parametrize(("label", "change", "direction", "words"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_change(label: str, change: Any, direction: str | None, words: str | None) -> None:
    changes = _changes(change)
    if direction is None:  # the same policy in other words: nothing changes for anyone
        assert changes == []
        return
    assert any(d == direction and words in text for d, text in changes), changes


def test_a_removed_consent_gate_is_more_for_the_people_logged() -> None:
    def gate(d: dict[str, Any]) -> None:
        d["streams"]["access"]["consent_gated"] = True

    old = _base()
    gate(old)
    result = diff(Policy.from_dict(old, environ=ENV), Policy.from_dict(_base(), environ=ENV), load("en"))
    assert [(c.direction, c.text) for c in result.changes] == [
        ("more", load("en").text("diff.gate_removed", stream="access"))
    ]
    assert result.needs_update


@pytest.mark.parametrize("lang", languages())
def test_every_change_is_told_in_every_language(lang: str) -> None:
    for _, change, direction, _ in CASES:
        for d, text in _changes(change, lang):
            assert d == direction
            assert "{" not in text.replace("{user_id}", "")


def test_every_field_action_and_header_action_has_a_protection_rank() -> None:
    assert {n: set(s.actions) for n, s in FIELDS.items()} == {n: set(r) for n, r in PROTECTION.items()}
    assert set(HEADER_PROTECTION) == HEADER_ACTIONS


# -- the exit code guards a CI pipeline ---------------------------------------------------------


def _toml(value: Any) -> str:
    """A value as TOML: tables inline, strings as JSON writes them (also valid TOML)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text("\n".join(f"{k} = {_toml(v)}" for k, v in data.items()) + "\n", encoding="utf-8")
    return path


def test_exit_1_when_the_notice_must_be_updated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRIVLOG_SECRET", raising=False)  # a diff needs no key
    new = _base()
    new["retention"]["access"]["days"] = 14
    assert (
        main(
            [
                "policy",
                "diff",
                str(_write(tmp_path / "old.toml", _base())),
                str(_write(tmp_path / "new.toml", new)),
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "more: Records of the access log are kept longer: at most 14 days instead of 7 days." in out
    assert out.rstrip().endswith("for the new policy.")


def test_exit_1_also_when_the_change_protects_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _base()
    new["retention"]["access"]["days"] = 1
    assert (
        main(
            [
                "policy",
                "diff",
                str(_write(tmp_path / "old.toml", _base())),
                str(_write(tmp_path / "new.toml", new)),
                "--lang",
                "de",
            ]
        )
        == 1
    )
    assert (
        "weniger: Einträge des Protokolls „access“ werden kürzer aufbewahrt: höchstens 1 Tag statt 7 Tage."
        in capsys.readouterr().out
    )


def test_exit_0_when_nothing_the_notice_states_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _base()
    new["export"].update(batch_size=64, directory="/elsewhere")
    new["proxies"] = {"trusted": ["10.0.0.0/8"]}
    assert (
        main(
            [
                "policy",
                "diff",
                str(_write(tmp_path / "old.toml", _base())),
                str(_write(tmp_path / "new.toml", new)),
            ]
        )
        == 0
    )
    assert "the published notice still holds" in capsys.readouterr().out


def test_exit_3_for_an_invalid_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _base()
    bad["retention"]["access"]["days"] = 0
    assert (
        main(
            [
                "policy",
                "diff",
                str(_write(tmp_path / "old.toml", _base())),
                str(_write(tmp_path / "new.toml", bad)),
            ]
        )
        == 3  # the documented code for an invalid policy (privlog --help)
    )
    assert "retention.access.days" in capsys.readouterr().err
