"""``privlog policy ropa``: one register entry per stream, with the columns of GDPR Art. 30(1)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from privlog._cli import main
from privlog._notice.explain import load_policy
from privlog._notice.locale import languages, load
from privlog._notice.ropa import COLUMNS, entries, measure, render_ropa
from privlog._policy.catalogue import FIELDS
from privlog._policy.model import Policy
from privlog._policy.types import FieldRule

from ..support.policies import policy_dict

EXAMPLES = Path(__file__).parents[2] / "examples"


def _ropa(name: str, fmt: str, lang: str = "en", capsys: pytest.CaptureFixture[str] | None = None) -> str:
    assert capsys is not None
    assert main(["policy", "ropa", str(EXAMPLES / f"{name}.toml"), "--format", fmt, "--lang", lang]) == 0
    return capsys.readouterr().out


def test_json_has_one_entry_per_stream_with_every_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRIVLOG_SECRET", raising=False)
    security, analytics = orjson.loads(_ropa("security-90-days", "json", capsys=capsys))
    for entry in (security, analytics):
        assert tuple(entry) == COLUMNS
        assert entry["controller"] == "alinme"
    assert security["activity"] == "Server log “security”"
    assert security["purpose"] == "detecting and investigating attacks and abuse"
    assert security["legal_basis"] == "legitimate interest, Art. 6(1)(f) GDPR"
    assert security["retention"] == "90 days, then deleted"
    assert {"IP address", "user account", "session cookie", "authentication events"} <= set(
        security["data_categories"]
    )
    assert security["data_subjects"] == [
        "visitors of the website and users of the service",
        "signed-in users",
    ]
    assert "IP address: keyed hash (BLAKE2b)" in security["technical_measures"]
    assert "user account: keyed pseudonym (BLAKE2b)" in security["technical_measures"]
    assert analytics["legal_basis"] == "consent, Art. 6(1)(a) GDPR and § 25(1) TTDSG"
    assert analytics["retention"] == "30 days, then deleted"
    assert analytics["data_subjects"] == ["visitors of the website and users of the service"]
    assert (
        "IP addresses shortened to /24 (IPv4) and /48 (IPv6) before storage"
        in analytics["technical_measures"]
    )
    assert "skipped for requests with Sec-GPC: 1 or DNT: 1" in analytics["technical_measures"]


@pytest.mark.parametrize("lang", languages())
def test_csv_columns_are_the_register_columns_in_the_language(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = list(csv.reader(io.StringIO(_ropa("security-90-days", "csv", lang, capsys))))
    loc = load(lang)
    assert rows[0] == [loc.text(f"ropa.column.{c}") for c in COLUMNS]
    policy = load_policy(EXAMPLES / "security-90-days.toml", environ={})
    expected = entries(policy, loc, {})
    assert len(rows) == 1 + len(expected) == 3
    for row, entry in zip(rows[1:], expected, strict=True):
        assert row == [v if isinstance(v, str) else "; ".join(v) for v in (entry[c] for c in COLUMNS)]


def test_german_register_uses_german_legal_terms(capsys: pytest.CaptureFixture[str]) -> None:
    (entry,) = orjson.loads(_ropa("access-7-days", "json", "de", capsys))
    assert entry["legal_basis"] == "berechtigtes Interesse, Art. 6 Abs. 1 lit. f DSGVO"
    assert entry["retention"] == "7 Tage, danach Löschung"
    assert (
        "IP-Adressen vor dem Speichern gekürzt auf /16 (IPv4) und /32 (IPv6)" in entry["technical_measures"]
    )


def test_markdown_has_a_table_per_stream(capsys: pytest.CaptureFixture[str]) -> None:
    md = _ropa("security-90-days", "md", capsys=capsys)
    assert md.count("\n## ") == 2
    assert md.count("| Time limit for erasure |") == 2


def test_recipients_follow_the_sink() -> None:
    loc = load("en")
    data = policy_dict()
    data["export"] = {"sink": "jsonl"}
    (local,) = entries(Policy.from_dict(data), loc, {})
    assert local["recipients"] == ["none: stored on the controller's own server"]
    assert local["transfers"] == "none"
    data["export"] = {"sink": "otlp"}
    (remote,) = entries(
        Policy.from_dict(data), loc, {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://logs.example.eu:4318"}
    )
    assert remote["recipients"] == ["the controller's log collector (logs.example.eu)"]
    assert remote["transfers"] == "as for the log collector (logs.example.eu)"


@pytest.mark.parametrize("lang", languages())
def test_every_field_has_a_category_and_every_action_but_keep_a_measure(lang: str) -> None:
    loc = load(lang)
    for name, spec in FIELDS.items():
        assert loc.has(f"ropa.category.{name}"), name
        for action in spec.actions:
            options = {o.name: o.default for o in spec.options.get(action, ())}
            text = measure(loc, name, FieldRule(action, options), "blake2b")
            assert (text is None) == (action == "keep"), (name, action)
            assert text is None or "{" not in text, text


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render_ropa([], load("en"), "xml")


def test_a_last_visit_retention_is_counted_from_the_subjects_last_visit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    (entry,) = orjson.loads(_ropa("analytics-2-years", "json", capsys=capsys))
    assert entry["retention"].startswith("730 days after the data subject's last visit, then deleted")
    assert any(m.startswith("last-visit link:") for m in entry["technical_measures"])
