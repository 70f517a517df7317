"""OTEL_SDK_DISABLED=true: OpenTelemetry export is off, and stats() counts what it did not export."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from privlog import Policy, PrivacyLog
from privlog._core.capture import Capture
from privlog._core.dispatcher import SinkStats

from ..support.policies import ENV, FULL
from ..support.sinks import ListSink


def run(pl: PrivacyLog, n: int = 5) -> None:
    for i in range(n):
        pl.dispatcher.submit(Capture.auth("logout", time.time_ns(), f"u{i}"))
    pl.flush()


def records_made(n: int = 5) -> int:
    """How many records the same captures make, as a plain sink receives them."""
    sink = ListSink()
    pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink])
    run(pl, n)
    pl.close()
    return len(sink.records)


@pytest.fixture(autouse=True)
def disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")


@pytest.mark.parametrize("sink", ["otlp", "otel"])
@pytest.mark.parametrize("native", [None, False])
def test_records_for_a_disabled_exporter_are_counted_as_lost(sink: str, native: bool | None) -> None:
    expected = records_made()
    assert expected > 0
    pl = PrivacyLog(Policy.from_dict({**FULL, "export": {"sink": sink}}, environ=ENV), native=native)
    run(pl)
    stats = pl.stats()
    pl.close()
    assert stats.sinks == {sink: SinkStats(delivered=0, lost=expected)}
    assert (stats.exported, stats.failed) == (0, expected)


def test_with_both_the_store_keeps_them_and_the_exporter_counts_them_lost(tmp_path: Path) -> None:
    expected = records_made()
    policy = Policy.from_dict({**FULL, "export": {"sink": "both"}}, environ=ENV)
    pl = PrivacyLog(policy, directory=tmp_path)
    run(pl)
    stats = pl.stats()
    pl.close()
    assert stats.sinks == {"otlp": SinkStats(0, expected), "jsonl": SinkStats(expected, 0)}
    stored = sum(len(p.read_bytes().splitlines()) for p in tmp_path.glob("*/*.jsonl"))
    assert stored == expected


def test_the_warning_says_where_stats_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    pl = PrivacyLog(Policy.from_dict({**FULL, "export": {"sink": "otlp"}}, environ=ENV))
    pl.close()
    assert "OTEL_SDK_DISABLED is true" in caplog.text
    assert "counts them as lost by the 'otlp' sink" in caplog.text


def test_auto_falls_back_to_the_store_and_counts_nothing_lost(tmp_path: Path) -> None:
    expected = records_made()
    pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), directory=tmp_path)
    run(pl)
    stats = pl.stats()
    pl.close()
    assert stats.sinks == {"jsonl": SinkStats(expected, 0)}
    assert stats.exported == expected
