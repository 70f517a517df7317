"""``PrivacyLog.stats()`` tells the truth: what each sink lost is counted, per sink, and equals
what the collector acknowledged or what is on disk; the aggregate metrics carry it too."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from privlog import Policy, PrivacyLog
from privlog.sinks.otlp import OtlpHttpSink

from ..support.otlp_fake import Reply, ScriptedReceiver, free_port
from ..support.policies import ENV, FULL

EVENTS = 1000


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    with ScriptedReceiver() as r:
        yield r


def fast_sink(url: str, **kw: float) -> OtlpHttpSink:
    options = {"timeout": 1.0, "max_retries": 1, "backoff": 0.01, "max_backoff": 0.02, "cooldown": 0.05}
    return OtlpHttpSink(url, environ={}, **{**options, **kw})  # type: ignore[arg-type]


def run(sink: OtlpHttpSink, events: int = EVENTS) -> PrivacyLog:
    data = {**FULL, "export": {"flush_interval": 60, "batch_size": 100}}
    pl = PrivacyLog(Policy.from_dict(data, environ=ENV), sinks=[sink])
    for i in range(events):
        pl.auth_event("login_failure", user_id=f"user{i}")
        if i % 100 == 99:
            pl.flush()
    pl.flush()
    return pl


class TestOtlpCounters:
    @pytest.mark.parametrize(
        "script",
        [
            pytest.param([Reply(500)] * 100, id="500"),
            pytest.param([Reply(429)] * 100, id="429"),
            pytest.param([Reply(503, {"Retry-After": "0"})] * 3 + [Reply(200)] * 100, id="503-then-ok"),
        ],
    )
    def test_stats_equal_what_the_collector_acknowledged(
        self, receiver: ScriptedReceiver, script: list[Reply]
    ) -> None:
        receiver.script.extend(script)
        pl = run(fast_sink(receiver.url))
        stats = pl.stats()
        pl.close()
        accepted = _acknowledged(receiver)  # records in requests answered 2xx
        otlp = stats.sinks["otlp"]
        assert stats.captured == EVENTS
        assert stats.exported == otlp.delivered == accepted
        assert stats.failed == otlp.lost == EVENTS - accepted  # one record per auth event here

    def test_a_refusing_collector_loses_everything_and_says_so(self) -> None:
        pl = run(fast_sink(f"http://127.0.0.1:{free_port()}/v1/logs"))
        stats = pl.stats()
        pl.close()
        assert (stats.exported, stats.failed) == (0, EVENTS)
        assert stats.sinks["otlp"].lost == EVENTS
        assert stats.sinks["otlp"].delivered == 0

    def test_aggregate_metrics_carry_the_per_sink_counters(self) -> None:
        reader = InMemoryMetricReader()
        data = {**FULL, "metrics": {"enabled": True, "stream": "security"}, "export": {"flush_interval": 60}}
        sink = fast_sink(f"http://127.0.0.1:{free_port()}/v1/logs")
        pl = PrivacyLog(Policy.from_dict(data, environ=ENV), meter_provider=MeterProvider([reader]))
        metrics = [s for s in pl.sinks if type(s).__name__ == "AggregateMetricsSink"]
        pl.dispatcher.sinks = (sink, *metrics)
        for i in range(10):
            pl.auth_event("logout", user_id=f"u{i}")
        pl.flush()
        data_ = reader.get_metrics_data()
        pl.close()
        assert data_ is not None
        points = {
            (m.name, tuple(sorted(p.attributes.items()))): p.value
            for rm in data_.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            for p in m.data.data_points
            if m.name.startswith("privlog.") and m.name != "privlog.requests"
        }
        lost = (("privlog.outcome", "lost"), ("privlog.sink", "otlp"))
        assert points[("privlog.sink.records", lost)] == 10
        assert points[("privlog.records", (("privlog.outcome", "failed"),))] == 10
        assert points[("privlog.records", (("privlog.outcome", "exported"),))] == 0


class TestRetryAfterCap:
    def test_one_retry_after_of_an_hour_does_not_stop_export(self, receiver: ScriptedReceiver) -> None:
        receiver.script.append(Reply(429, {"Retry-After": "3600"}))
        sink = fast_sink(receiver.url, timeout=3.0, max_retry_after=0.3)
        start = time.monotonic()
        pl = run(sink, events=100)
        stats = pl.stats()
        pl.close()
        assert time.monotonic() - start < 2.5
        assert stats.exported == 100
        assert stats.sinks["otlp"].lost == 0

    def test_the_default_cap_is_a_minute(self) -> None:
        assert fast_sink("http://127.0.0.1:9/v1/logs")._max_retry_after == 60.0


def _acknowledged(receiver: ScriptedReceiver) -> int:
    """Records in requests the receiver answered 2xx (the script is consumed in order)."""
    return sum(
        1
        for r, status in zip(receiver.requests, receiver.statuses)
        if 200 <= status < 300
        for _ in _records_of(r.body)
    )


def _records_of(body: bytes) -> list[object]:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    req = ExportLogsServiceRequest()
    req.ParseFromString(body)
    return [lr for rl in req.resource_logs for sl in rl.scope_logs for lr in sl.log_records]
