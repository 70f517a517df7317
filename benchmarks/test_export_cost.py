"""CPU per exported record: privlog's hand-written OTLP encoding against the OpenTelemetry SDK path.

    pytest benchmarks/test_export_cost.py --benchmark-only --benchmark-json=.benchmarks/export.json
    python benchmarks/report.py .benchmarks/export.json

Each round handles one batch of 256 records (128 requests, two streams each), no network, in one
thread, so the wall time measured is the CPU spent. The SDK path is the OpenTelemetrySink's:
``Logger.emit`` per record, the BatchLogRecordProcessor's conversion to a readable record (its
queue and thread left out, which favours the SDK), then the SDK's OTLP encoder and
``SerializeToString``. The fast path is ``OtlpHttpSink``'s encoder; its gzip variant adds the
compression the sink does when asked. The "pipeline" variants include privlog's transforms; the
"native" one runs them and the encoding in the privlog-native extension (skipped without it),
from the same captures (the reader, key ring and client resolution still run in Python).

``test_cpu_per_record_interleaved`` is the goal's ratio: the four paths from capture (or, for
the SDK alone, from privlog's records) to OTLP bytes, interleaved in each round, measured in
this thread's CPU time (the extension's work included: it runs in this thread).
"""

from __future__ import annotations

import copy
import gzip
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource

from conftest import interleaved_cpu
from privlog import Output, Pipeline, Policy
from privlog._core.capture import Capture
from privlog._core.native import NativePipeline, available
from privlog.asgi import read_asgi_scope
from privlog.sinks.otel import OpenTelemetrySink
from privlog.sinks.otlp import OtlpHttpSink

POLICY = Path(__file__).parent.parent / "examples" / "security-90-days.toml"
ENV = {"PRIVLOG_SECRET": "benchmark-secret-benchmark-secret-0123"}
RECORDS_PER_ROUND = 256
UAS = [
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
]

pytestmark = pytest.mark.benchmark(group="export")


def captures(n: int = RECORDS_PER_ROUND // 2, first: int = 0) -> list[Capture]:
    """``n`` realistic requests, each with its own client, user, session, request id and timing."""
    out = []
    for i in range(first, first + n):
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET" if i % 5 else "POST",
            "scheme": "https",
            "path": f"/users/{4000 + i % 1000}",
            "root_path": "",
            "query_string": f"page={i % 7}&q=jane{i}".encode(),
            "headers": [
                (b"user-agent", UAS[i % len(UAS)]),
                (b"accept-language", b"de-DE,de;q=0.9,en;q=0.8"),
                (b"referer", b"https://news.example.com/article/42?utm_source=mail"),
                (b"cookie", f"session=s3cr3t-session-{i:08x}; theme=dark".encode()),
                (b"x-forwarded-for", f"2001:db8::{i:x}".encode()),
                (b"x-request-id", f"00000000-0000-4000-8000-{i:012x}".encode()),
            ],
            "client": ("127.0.0.1", 51000 + i),
        }
        start = 1_764_000_000_000_000_000 + i * 1_000_000
        out.append(
            Capture(
                "http",
                read_asgi_scope,
                scope,
                start,
                800_000 + i * 997,
                200,
                0,
                2000 + i,
                f"user{i}@x.test",
                None,
            )
        )
    return out


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(Policy.from_toml(POLICY, environ=ENV))


class Batches:
    """Distinct batches, used in turn: unique values (ids, hashes, timings) are new in every round,
    as in production, so the encoder's cache only ever serves what really repeats."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.i = 0

    def next(self) -> Any:
        self.i = (self.i + 1) % len(self.items)
        return self.items[self.i]


ROUNDS = 40  # more distinct batches than the encoder's cache (4096 entries) can hold


@pytest.fixture(scope="module")
def capture_batches() -> list[list[Capture]]:
    return [captures(first=r * RECORDS_PER_ROUND) for r in range(ROUNDS)]


@pytest.fixture(scope="module")
def batches(pipeline: Pipeline, capture_batches: list[list[Capture]]) -> list[list[Output]]:
    out = [[o for c in caps for o in pipeline.process(c)] for caps in capture_batches]
    assert all(len(b) == RECORDS_PER_ROUND for b in out)
    return out


def fast_sink() -> OtlpHttpSink:
    return OtlpHttpSink("http://127.0.0.1:9/v1/logs", service_name="alinme", environ={})


class _Collect(LogRecordProcessor):
    """What BatchLogRecordProcessor.on_emit does with each record, minus its queue and thread."""

    def __init__(self) -> None:
        self.records: list[ReadableLogRecord] = []

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        api_record = copy.copy(log_record.log_record)
        api_record.context = Context()
        self.records.append(
            ReadableLogRecord(
                log_record=api_record,
                resource=log_record.resource if log_record.resource is not None else Resource.create({}),
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
        )

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def sdk_path() -> tuple[OpenTelemetrySink, _Collect]:
    provider = LoggerProvider(resource=Resource.create({"service.name": "alinme"}))
    collect = _Collect()
    provider.add_log_record_processor(collect)
    return OpenTelemetrySink(provider), collect


def sdk_export(sink: OpenTelemetrySink, collect: _Collect, records: list[Output]) -> bytes:
    sink.write(records)
    data: bytes = encode_logs(collect.records).SerializeToString()
    collect.records.clear()
    return data


def run(benchmark: Any, target: Any, rounds: int = ROUNDS) -> None:
    target()  # warm up: lazy imports
    benchmark.extra_info["requests_per_round"] = RECORDS_PER_ROUND  # report.py then prints per record
    benchmark.pedantic(target, rounds=rounds, iterations=1, warmup_rounds=2)


def count(data: bytes) -> int:
    req = ExportLogsServiceRequest()
    req.ParseFromString(data)
    return sum(len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs)


def test_fast_encode(benchmark: Any, batches: list[list[Output]]) -> None:
    encoder = fast_sink().encoder
    assert count(encoder.encode(batches[0], time.time_ns())) == RECORDS_PER_ROUND
    turn = Batches(batches)
    run(benchmark, lambda: encoder.encode(turn.next(), time.time_ns()))


def test_fast_encode_gzip(benchmark: Any, batches: list[list[Output]]) -> None:
    sink = fast_sink()
    turn = Batches(batches)
    run(
        benchmark,
        lambda: gzip.compress(sink.encoder.encode(turn.next(), time.time_ns()), sink.gzip_level, mtime=0),
    )


def test_sdk_emit_and_encode(benchmark: Any, batches: list[list[Output]]) -> None:
    sink, collect = sdk_path()
    assert count(sdk_export(sink, collect, batches[0])) == RECORDS_PER_ROUND
    turn = Batches(batches)
    run(benchmark, lambda: sdk_export(sink, collect, turn.next()))


def test_pipeline_and_fast_encode(
    benchmark: Any, pipeline: Pipeline, capture_batches: list[list[Capture]]
) -> None:
    encoder = fast_sink().encoder
    turn = Batches(capture_batches)

    def target() -> bytes:
        return encoder.encode([o for c in turn.next() for o in pipeline.process(c)], time.time_ns())

    run(benchmark, target)


def test_pipeline_and_sdk(benchmark: Any, pipeline: Pipeline, capture_batches: list[list[Capture]]) -> None:
    sink, collect = sdk_path()
    turn = Batches(capture_batches)
    run(benchmark, lambda: sdk_export(sink, collect, [o for c in turn.next() for o in pipeline.process(c)]))


@pytest.mark.skipif(not available(), reason="privlog-native is not installed")
def test_native_pipeline_and_encode(benchmark: Any, capture_batches: list[list[Capture]]) -> None:
    native = NativePipeline(Pipeline(Policy.from_toml(POLICY, environ=ENV)), fast_sink().encoder)
    first = native.run(capture_batches[0], time.time_ns())
    assert (first.fallback, first.failed) == (0, 0)
    assert count(first.batch.otlp()) == RECORDS_PER_ROUND
    turn = Batches(capture_batches)
    released: list[int] = []

    def target() -> bytes:
        result = native.run(turn.next(), time.time_ns(), jsonl=False)
        data = result.batch.otlp()
        released.append(result.batch.released_ns)
        return data

    run(benchmark, target)
    released.sort()
    benchmark.extra_info["gil_released_us_per_record"] = released[len(released) // 2] / RECORDS_PER_ROUND / 1e3


def test_cpu_per_record_interleaved(
    benchmark: Any, pipeline: Pipeline, capture_batches: list[list[Capture]], batches: list[list[Output]]
) -> None:
    encoder = fast_sink().encoder
    sink, collect = sdk_path()
    captured, made = Batches(capture_batches), Batches(batches)

    def python() -> int:
        encoder.encode([o for c in captured.next() for o in pipeline.process(c)], time.time_ns())
        return 0

    def sdk() -> int:
        sdk_export(sink, collect, made.next())
        return 0

    def pipeline_and_sdk() -> int:
        sdk_export(sink, collect, [o for c in captured.next() for o in pipeline.process(c)])
        return 0

    steps = {"privlog_python": python, "sdk_emit_and_encode": sdk, "privlog_transforms_and_sdk": pipeline_and_sdk}
    if available():
        native = NativePipeline(Pipeline(Policy.from_toml(POLICY, environ=ENV)), fast_sink().encoder)
        assert count(native.run(capture_batches[0], time.time_ns()).batch.otlp()) == RECORDS_PER_ROUND

        def extension() -> int:
            result = native.run(captured.next(), time.time_ns(), jsonl=False)
            assert (result.fallback, result.failed) == (0, 0)
            result.batch.otlp()
            return 0  # CPU time, so the GIL-released work counts too

        steps["privlog_extension"] = extension
    samples: dict[str, list[float]] = {}
    benchmark.pedantic(
        lambda: samples.update(interleaved_cpu(steps, ROUNDS, RECORDS_PER_ROUND)), rounds=1, iterations=1
    )
    medians = {name: statistics.median(v) for name, v in samples.items()}
    benchmark.extra_info["goal_export"] = {"us_per_record": medians, "rounds": ROUNDS}
