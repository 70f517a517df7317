"""The fast OTLP/HTTP sink: its hand-written protobuf, its settings, retries and circuit breaker."""

from __future__ import annotations

import gzip
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord
from opentelemetry._logs import SeverityNumber as SdkSeverity
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from starlette.testclient import TestClient

from privlog import ConfigurationError, Output, Policy, PrivacyLog, PrivacyLogMiddleware
from privlog._core.record import as_exported
from privlog.sinks._otlp_encode import LogEncoder, any_value, rejected_records, varint
from privlog.sinks.otel import OpenTelemetrySink
from privlog.sinks.otlp import OtlpHttpSink, _retry_after, endpoint_from_env

from ..support.otlp_fake import Reply, ScriptedReceiver, free_port
from ..support.otlp_receiver import plain
from ..support.policies import ENV, FULL
from ..support.sinks import ListSink

PERSONAL = ["alice@example.com", "198.51.100.77", "sess-0123456789"]


def out(attrs: dict[str, Any], ts: int = 1_764_000_000_123_456_789, stream: str = "security") -> Output:
    return Output(stream, 90, ts, {"event.name": "http.request", **attrs})


def parse(data: bytes) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    req.ParseFromString(data)
    return req


def decoded(data: bytes) -> list[dict[str, Any]]:
    req = parse(data)
    return [
        {kv.key: plain(kv.value) for kv in lr.attributes}
        for rl in req.resource_logs
        for sl in rl.scope_logs
        for lr in sl.log_records
    ]


def encode(records: list[Output], **kw: Any) -> bytes:
    return LogEncoder({"service.name": "svc"}, "privlog", "0.1.0", **kw).encode(
        records, 1_764_000_001_000_000_000
    )


def sink_for(receiver: ScriptedReceiver, **kw: Any) -> OtlpHttpSink:
    kw = {"timeout": 5.0, "backoff": 0.01, "max_backoff": 0.05, "cooldown": 0.3, "environ": {}, **kw}
    return OtlpHttpSink(receiver.url, **kw)


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    with ScriptedReceiver() as r:
        yield r


BATCH = [out({"user.id": f"u{i}", "http.response.status_code": 200}) for i in range(5)]

# -- encoding ---------------------------------------------------------------------------------


class TestEncoding:
    def test_every_value_type_round_trips(self) -> None:
        attrs = {
            "s": "plain",
            "empty": "",
            "unicode": "Grüße, 日本語, emoji 🎉, combining e\u0301, RTL שלום",
            "zero": 0,
            "neg": -1,
            "int64_max": 2**63 - 1,
            "int64_min": -(2**63),
            "big": 2**63,
            "very_big": -(10**30),
            "float": 0.0015,
            "neg_zero": -0.0,
            "inf": math.inf,
            "true": True,
            "false": False,
            "bytes": b"\x00\xff",
            "list": [1, "two", 3.0, True],
            "map": {"a": 1, "b": "x"},
        }
        (got,) = decoded(encode([out(attrs)]))
        assert got.pop("event.name") == "http.request"
        big = {"big": str(2**63), "very_big": str(-(10**30))}
        for key, value in attrs.items():
            if key in big:
                assert got[key] == big[key]
            elif key in ("list", "map"):
                continue
            else:
                assert got[key] == value, key
                assert type(got[key]) is type(value), key
        assert math.copysign(1, got["neg_zero"]) == -1
        req = parse(encode([out(attrs)]))
        lr = req.resource_logs[0].scope_logs[0].log_records[0]
        lst = next(kv.value for kv in lr.attributes if kv.key == "list")
        assert [plain(v) for v in lst.array_value.values] == [1, "two", 3.0, True]
        mp = next(kv.value for kv in lr.attributes if kv.key == "map")
        assert {kv.key: plain(kv.value) for kv in mp.kvlist_value.values} == {"a": 1, "b": "x"}

    def test_none_is_left_out_and_nan_survives(self) -> None:
        (got,) = decoded(encode([out({"gone": None, "nan": math.nan})]))
        assert "gone" not in got
        assert math.isnan(got["nan"])

    def test_lone_surrogates_become_valid_utf8(self) -> None:
        (got,) = decoded(encode([out({"bad": "a\ud800b"})]))
        assert got["bad"] == "a?b"

    def test_record_fields_resource_and_scope(self) -> None:
        req = parse(encode([out({"a": 1}, ts=1_764_000_000_123_456_789)]))
        (rl,) = req.resource_logs
        assert {kv.key: plain(kv.value) for kv in rl.resource.attributes} == {"service.name": "svc"}
        (sl,) = rl.scope_logs
        assert (sl.scope.name, sl.scope.version) == ("privlog", "0.1.0")
        (lr,) = sl.log_records
        assert lr.time_unix_nano == 1_764_000_000_123_456_789
        assert lr.observed_time_unix_nano == 1_764_000_001_000_000_000
        assert lr.severity_number == SeverityNumber.SEVERITY_NUMBER_INFO
        assert lr.severity_text == "INFO"
        assert lr.body.string_value == "http.request"
        assert lr.event_name == "http.request"  # the collector's ClickHouse EventName column

    def test_long_values_and_large_batches(self) -> None:
        long = "x" * 100_000 + "ü"
        records = [out({"long": long, "i": i}) for i in range(3)] + [out({"i": i}) for i in range(3, 1000)]
        got = decoded(encode(records))
        assert len(got) == 1000
        assert got[0]["long"] == long
        assert [g["i"] for g in got] == list(range(1000))

    def test_varints(self) -> None:
        for n in (0, 1, 127, 128, 2047, 2048, 16383, 16384, 2**32, 2**64 - 1):
            data = b"\x18" + varint(n)  # AnyValue.int_value: int64, so compare modulo 2**64
            v = AnyValue()
            v.ParseFromString(data)
            assert v.int_value % 2**64 == n

    def test_the_cache_keeps_types_apart_and_stays_bounded(self) -> None:
        enc = LogEncoder({"service.name": "svc"}, "privlog", cache_size=16)
        records = [out({"v": True}), out({"v": 1}), out({"v": 1.0}), out({"v": "1"})]
        for _ in range(2):  # the second pass is served from the cache
            got = [g["v"] for g in decoded(enc.encode(records, 1))]
            assert [type(v) for v in got] == [bool, int, float, str]
        for i in range(1000):
            enc.encode([out({"unique": f"value-{i}", "n": i})], 1)
            assert len(enc._cache) <= 16
        got = decoded(enc.encode([out({"unique": "last", "n": -1})], 1))
        assert got == [{"event.name": "http.request", "unique": "last", "n": -1}]

    def test_keys_whose_values_do_not_repeat_stop_being_cached(self) -> None:
        enc = LogEncoder({}, "privlog", cache_size=4096)
        for i in range(2000):
            enc.encode([out({"privlog.stream": "security", "user.id": f"u{i}", "size": i})], 1)
        assert {"user.id", "size"} <= enc._volatile
        assert "privlog.stream" not in enc._volatile
        assert ("privlog.stream", "security", str) in enc._cache
        assert len(enc._cache) < 1000  # the unique values did not fill it

    def test_unique_values_of_volatile_keys_still_round_trip(self) -> None:
        """Once a key's values stop repeating they skip the cache; every length and text still decodes."""
        enc = LogEncoder({}, "privlog", cache_size=64)
        values = ["ü" * (i % 300) + f"-{i}" for i in range(400)] + ["a\ud800b", ""]
        sent = [out({"user.id": v, "duration": i / 7, "size": i * 1000}) for i, v in enumerate(values)]
        first = decoded(enc.encode(sent, 1))  # user.id and size turn volatile on the way
        assert {"user.id", "size"} <= enc._volatile
        got = decoded(enc.encode(sent, 1))
        assert first == got
        assert [g["user.id"] for g in got] == [v.encode("utf-8", "replace").decode() for v in values]
        assert [g["duration"] for g in got] == [i / 7 for i in range(len(values))]
        assert [g["size"] for g in got] == [i * 1000 for i in range(len(values))]

    def test_a_pipeline_records_shared_tags_encode_as_if_inline(self) -> None:
        """The tags block, encoded once per tags object, gives the same record as encoding every entry."""
        tags = {"privlog.stream": "security", "privlog.retention.days": 90, "privlog.key_id": "k1"}
        with_tags = [
            Output("security", 90, i, {"event.name": "http.request", "user.id": f"u{i}", **tags}, tags)
            for i in range(50)
        ]
        enc = LogEncoder({}, "privlog")
        assert enc.encode(with_tags, 1) == enc.encode([o._replace(tags=None) for o in with_tags], 1)
        assert decoded(enc.encode(with_tags, 1))[3] == {"event.name": "http.request", "user.id": "u3", **tags}

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(
            st.dictionaries(
                st.sampled_from(["a", "b", "user.id", "n", "f"]),
                st.one_of(st.text(max_size=30), st.integers(), st.floats()),
            ),
            min_size=1,
            max_size=40,
        ),
        st.dictionaries(
            st.sampled_from(["privlog.stream", "privlog.key_id", "days"]),
            st.one_of(st.text(max_size=60), st.integers()),
            min_size=1,
        ),
    )
    def test_any_records_with_shared_tags_encode_as_if_inline(
        self, bodies: list[dict[str, Any]], tags: dict[str, Any]
    ) -> None:
        records = [Output("s", 1, i, {**b, **tags}, tags) for i, b in enumerate(bodies)]
        enc = LogEncoder({}, "privlog", cache_size=16)
        plain_enc = LogEncoder({}, "privlog", cache_size=16)
        assert enc.encode(records, 1) == plain_enc.encode([r._replace(tags=None) for r in records], 1)

    @pytest.mark.parametrize(
        ("attrs", "severity", "body"),
        [
            (
                {"http.request.method": "GET", "http.route": "/users/{user_id}", "url.path": "/users/{user_id}",
                 "http.response.status_code": 200, "http.server.request.duration": 0.0123},
                ("INFO", SeverityNumber.SEVERITY_NUMBER_INFO),
                "GET /users/{user_id} 200 12ms",
            ),
            (
                {"http.request.method": "POST", "url.path": "/x/:id", "http.response.status_code": 404,
                 "http.server.request.duration": 0.00081},
                ("WARN", SeverityNumber.SEVERITY_NUMBER_WARN),
                "POST /x/:id 404 0.8ms",
            ),
            (
                {"http.request.method": "GET", "http.response.status_code": 503, "http.server.request.duration": 12.34},
                ("ERROR", SeverityNumber.SEVERITY_NUMBER_ERROR),
                "GET 503 12.3s",
            ),
            (
                {"http.response.status_code": 200, "privlog.incomplete": True},
                ("ERROR", SeverityNumber.SEVERITY_NUMBER_ERROR),
                "200",
            ),
            ({"user.id": "u1"}, ("INFO", SeverityNumber.SEVERITY_NUMBER_INFO), "http.request"),
            (
                {"event.name": "auth.login_failure", "http.request.method": "POST", "url.path": "/login",
                 "http.response.status_code": 200},
                ("WARN", SeverityNumber.SEVERITY_NUMBER_WARN),
                "auth.login_failure POST /login 200",
            ),
            ({"event.name": "auth.logout"}, ("INFO", SeverityNumber.SEVERITY_NUMBER_INFO), "auth.logout"),
            (
                {"event.name": "websocket.session", "url.path": "/ws/{room}", "privlog.websocket.close_code": 1011,
                 "http.server.request.duration": 3.21, "privlog.websocket.messages_in": 5,
                 "privlog.websocket.messages_out": 4},
                ("ERROR", SeverityNumber.SEVERITY_NUMBER_ERROR),
                "websocket /ws/{room} 1011 3.2s in=5 out=4",
            ),
        ],
    )
    def test_severity_and_body_from_the_outcome_as_the_sdk_sink_sends_them(
        self, attrs: dict[str, Any], severity: tuple[str, int], body: str
    ) -> None:
        """Both sinks give a record the same severity, line and event name (the SDK's own
        encoder turns the SDK sink's record into a message equal to the fast encoder's)."""
        batches: list[ExportLogsServiceRequest] = []

        class Capture(LogRecordExporter):
            def export(self, batch: Any) -> LogRecordExportResult:
                batches.append(encode_logs(list(batch)))
                return LogRecordExportResult.SUCCESS

            def shutdown(self) -> None:
                pass

            def force_flush(self, timeout_millis: int = 0) -> bool:
                return True

        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(Capture()))
        record = out(attrs, ts=5)
        OpenTelemetrySink(provider).write([record])
        provider.shutdown()
        sdk_record = batches[0].resource_logs[0].scope_logs[0].log_records[0]
        encoder = LogEncoder({}, "privlog")
        for _ in range(2):  # the second time from the encoder's caches
            ours = parse(encoder.encode([record], sdk_record.observed_time_unix_nano))
            lr = ours.resource_logs[0].scope_logs[0].log_records[0]
            assert lr == sdk_record
            assert (lr.severity_text, lr.severity_number) == severity
            assert lr.body.string_value == body
            assert lr.event_name == record.attributes["event.name"]

    def test_the_same_bytes_as_the_sdk_for_each_log_record(self) -> None:
        """The SDK's own encoder, fed the same record, yields an equal LogRecord message."""
        batches: list[ExportLogsServiceRequest] = []

        class Capture(LogRecordExporter):
            def export(self, batch: Any) -> LogRecordExportResult:
                batches.append(encode_logs(list(batch)))
                return LogRecordExportResult.SUCCESS

            def shutdown(self) -> None:
                pass

            def force_flush(self, timeout_millis: int = 0) -> bool:
                return True

        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(Capture()))
        attrs: dict[str, Any] = {
            "event.name": "http.request",
            "s": "ü",
            "i": -3,
            "f": 2.5,
            "b": False,
            "l": ["a", "b"],
        }
        provider.get_logger("privlog", "0.1.0").emit(
            LogRecord(
                timestamp=5,
                observed_timestamp=6,
                severity_text="INFO",
                severity_number=SdkSeverity.INFO,
                body="http.request",
                attributes=attrs,
                event_name="http.request",
            )
        )
        provider.shutdown()
        sdk_record = batches[0].resource_logs[0].scope_logs[0].log_records[0]
        ours = parse(LogEncoder({}, "privlog").encode([Output("s", 1, 5, attrs)], 6))
        assert ours.resource_logs[0].scope_logs[0].log_records[0] == sdk_record

    @settings(max_examples=200, deadline=None)
    @given(
        st.dictionaries(
            st.text(min_size=1, max_size=20),
            st.one_of(
                st.text(max_size=50),
                st.integers(min_value=-(2**63), max_value=2**63 - 1),
                st.floats(allow_nan=False),
                st.booleans(),
            ),
            max_size=30,
        )
    )
    @example({"http.request.header.referer": "https://a.example", "http.request.header.": ""})
    def test_any_flat_record_round_trips(self, attrs: dict[str, Any]) -> None:
        clean = {k.encode("utf-8", "replace").decode(): v for k, v in attrs.items()}
        clean = {
            k: (v.encode("utf-8", "replace").decode() if isinstance(v, str) else v) for k, v in clean.items()
        }
        (got,) = decoded(encode([Output("s", 1, 1, clean)]))
        exported = {k: as_exported(k, v) for k, v in clean.items()}  # a header: a list of one string
        assert got == exported
        assert all(type(got[k]) is type(v) for k, v in exported.items())

    def test_any_value_of_an_unknown_type_is_its_text(self) -> None:
        class Thing:
            def __str__(self) -> str:
                return "thing"

        v = AnyValue()
        v.ParseFromString(any_value(Thing()) or b"")
        assert v.string_value == "thing"

    def test_partial_success_is_read(self) -> None:
        resp = ExportLogsServiceResponse()
        resp.partial_success.rejected_log_records = 3
        resp.partial_success.error_message = "too old"
        assert rejected_records(resp.SerializeToString()) == 3
        assert rejected_records(b"") == 0
        assert rejected_records(b"\x0a\x05\x08") == 0  # truncated: not an error
        assert rejected_records(b"not protobuf at all \xff\xff") == 0


# -- settings -----------------------------------------------------------------------------------


class TestSettings:
    @pytest.mark.parametrize(
        ("env", "expected"),
        [
            ({}, "http://localhost:4318/v1/logs"),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http://collector:4318/v1/logs"),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318/otlp/"}, "https://c:4318/otlp/v1/logs"),
            (
                {
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:9999/custom",
                },
                "http://logs:9999/custom",
            ),
        ],
    )
    def test_endpoint(self, env: dict[str, str], expected: str) -> None:
        assert endpoint_from_env(env) == expected
        assert OtlpHttpSink(environ=env).endpoint == expected

    def test_the_argument_wins_over_the_environment(self) -> None:
        env = {
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:9999/custom",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_HEADERS": "a=1",
        }
        sink = OtlpHttpSink(
            "http://arg:1/v1/logs", timeout=1.5, compression="none", headers={"a": "2"}, environ=env
        )
        assert (sink.endpoint, sink.timeout, sink.compression) == ("http://arg:1/v1/logs", 1.5, "none")
        assert sink._headers["a"] == "2"

    def test_timeout_is_in_milliseconds_and_logs_specific_wins(self) -> None:
        assert OtlpHttpSink(environ={}).timeout == 10.0
        assert OtlpHttpSink(environ={"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}).timeout == 2.5
        env = {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "750"}
        assert OtlpHttpSink(environ=env).timeout == 0.75

    def test_headers_are_url_decoded_and_logs_specific_wins(self) -> None:
        env = {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b%3Dc, x-tenant = acme ,Authorization=Basic%20dTpw"}
        h = OtlpHttpSink(environ=env)._headers
        assert (h["api-key"], h["x-tenant"], h["Authorization"]) == ("a b=c", "acme", "Basic dTpw")
        env["OTEL_EXPORTER_OTLP_LOGS_HEADERS"] = "only=this"
        h = OtlpHttpSink(environ=env)._headers
        assert h["only"] == "this"
        assert "api-key" not in h

    def test_a_malformed_header_entry_is_skipped_without_its_value(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, "privlog"):
            h = OtlpHttpSink(environ={"OTEL_EXPORTER_OTLP_HEADERS": "secret-token-123,ok=1"})._headers
        assert h["ok"] == "1"
        assert "OTEL_EXPORTER_OTLP_HEADERS" in caplog.text
        assert "secret-token-123" not in caplog.text

    def test_compression(self) -> None:
        assert OtlpHttpSink(environ={}).compression == "none"
        assert OtlpHttpSink(environ={"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}).compression == "gzip"
        env = {"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "none"}
        assert OtlpHttpSink(environ=env).compression == "none"
        assert OtlpHttpSink(compression="gzip", environ={}).compression == "gzip"

    @pytest.mark.parametrize(
        ("kwargs", "setting"),
        [
            ({"environ": {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}}, "COMPRESSION"),
            ({"environ": {"OTEL_EXPORTER_OTLP_TIMEOUT": "ten"}}, "TIMEOUT"),
            ({"endpoint": "ftp://collector/v1/logs", "environ": {}}, "ENDPOINT"),
            ({"headers": {"x": "a\r\nInjected: 1"}, "environ": {}}, "header"),
        ],
    )
    def test_bad_settings_fail_at_start_up(self, kwargs: dict[str, Any], setting: str) -> None:
        with pytest.raises(ConfigurationError, match=setting) as info:
            OtlpHttpSink(**kwargs)
        assert "Injected: 1" not in str(info.value)

    def test_resource(self) -> None:
        env = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=from-attrs"}
        for sink, name in [
            (OtlpHttpSink(environ=env), "from-attrs"),
            (OtlpHttpSink(environ={**env, "OTEL_SERVICE_NAME": "from-env"}), "from-env"),
            (OtlpHttpSink(environ=env, service_name="arg"), "arg"),
            (OtlpHttpSink(environ={}), "unknown_service"),
        ]:
            req = parse(sink.encoder.encode([out({})], 1))
            res = {kv.key: plain(kv.value) for kv in req.resource_logs[0].resource.attributes}
            assert res["service.name"] == name
        assert res == {"service.name": "unknown_service"}

    def test_retry_after(self) -> None:
        assert _retry_after("3") == 3.0
        assert _retry_after(None) is None
        assert _retry_after("soon") is None
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
        assert 25 < (_retry_after(date) or 0) <= 30


# -- delivery -----------------------------------------------------------------------------------


class TestDelivery:
    def test_a_batch_arrives_on_one_kept_alive_connection(self, receiver: ScriptedReceiver) -> None:
        sink = sink_for(receiver, headers={"Authorization": "Bearer t"})
        for _ in range(3):
            sink.write(BATCH)
        sink.close()
        assert len(receiver.requests) == 3
        assert len({r.port for r in receiver.requests}) == 1
        first = receiver.requests[0]
        assert first.path == "/v1/logs"
        assert first.headers["content-type"] == "application/x-protobuf"
        assert first.headers["authorization"] == "Bearer t"
        assert "content-encoding" not in first.headers
        assert [r["user.id"] for r in receiver.records()[:5]] == [f"u{i}" for i in range(5)]
        assert (sink.stats().exported, sink.stats().dropped) == (15, 0)

    def test_gzip(self, receiver: ScriptedReceiver) -> None:
        sink = sink_for(receiver, compression="gzip")
        sink.write([out({"n": i, "tag": "same"}) for i in range(200)])
        sink.close()
        (req,) = receiver.requests
        assert req.headers["content-encoding"] == "gzip"
        assert gzip.decompress(req.raw) == req.body
        assert len(req.raw) < len(req.body) / 3
        assert len(receiver.records()) == 200

    def test_a_dropped_idle_connection_is_reopened_without_a_retry(self) -> None:
        with ScriptedReceiver(close_after_response=True) as receiver:
            sink = sink_for(receiver)
            for _ in range(3):
                sink.write(BATCH)
                time.sleep(0.05)
            sink.close()
        stats = sink.stats()
        assert (stats.exported, stats.retries, stats.failed_batches) == (15, 0, 0)
        assert len({r.port for r in receiver.requests}) == 3  # it did reconnect each time

    def test_retry_on_503_then_success(self, receiver: ScriptedReceiver) -> None:
        receiver.script.extend([Reply(503), Reply(502), Reply(504), Reply(429)])
        sink = sink_for(receiver)
        sink.write(BATCH)
        sink.close()
        stats = sink.stats()
        assert (stats.exported, stats.dropped, stats.retries, stats.failed_batches) == (5, 0, 4, 0)
        assert len({r.body for r in receiver.requests}) == 1  # the same bytes each time
        assert len(receiver.records()) == 5 * 5

    def test_retry_after_is_honoured(self, receiver: ScriptedReceiver) -> None:
        receiver.script.append(Reply(503, {"Retry-After": "1"}))
        sink = sink_for(receiver, backoff=0.001)
        sink.write(BATCH)
        sink.close()
        first, second = receiver.requests
        assert second.at - first.at >= 0.95
        assert sink.stats().exported == 5

    def test_a_retry_after_beyond_the_budget_gives_up_at_once_and_holds_the_breaker(
        self, receiver: ScriptedReceiver
    ) -> None:
        receiver.script.append(Reply(429, {"Retry-After": "60"}))
        sink = sink_for(receiver, timeout=2.0, cooldown=0.1)
        start = time.monotonic()
        sink.write(BATCH)
        assert time.monotonic() - start < 1.0
        assert sink.stats().failed_batches == 1
        time.sleep(0.2)  # past the cool-down, not past Retry-After
        sink.write(BATCH)
        assert sink.stats().short_circuited == 1
        assert len(receiver.requests) == 1
        sink.close()

    @pytest.mark.parametrize("status", [400, 401, 404, 413])
    def test_errors_that_a_retry_cannot_fix_are_not_retried(
        self, receiver: ScriptedReceiver, status: int, caplog: pytest.LogCaptureFixture
    ) -> None:
        receiver.script.append(Reply(status))
        sink = sink_for(receiver)
        with caplog.at_level(logging.WARNING, "privlog"):
            sink.write(BATCH)
        sink.close()
        stats = sink.stats()
        assert (stats.retries, stats.failed_batches, stats.dropped, stats.exported) == (0, 1, 5, 0)
        assert f"HTTP {status}" in caplog.text

    def test_the_time_budget_bounds_a_batch(self, receiver: ScriptedReceiver) -> None:
        receiver.script.extend([Reply(200, delay=5.0)])
        sink = sink_for(receiver, timeout=0.5)
        start = time.monotonic()
        sink.write(BATCH)
        assert time.monotonic() - start < 1.5
        stats = sink.stats()
        assert (stats.failed_batches, stats.dropped) == (1, 5)
        sink.close()

    def test_partial_success_counts_the_rejected_records(
        self, receiver: ScriptedReceiver, caplog: pytest.LogCaptureFixture
    ) -> None:
        resp = ExportLogsServiceResponse()
        resp.partial_success.rejected_log_records = 2
        resp.partial_success.error_message = "rejected alice@example.com"
        receiver.script.append(Reply(200, body=resp.SerializeToString()))
        sink = sink_for(receiver)
        with caplog.at_level(logging.WARNING, "privlog"):
            sink.write(BATCH)
        sink.close()
        assert (sink.stats().exported, sink.stats().dropped) == (3, 2)
        assert "rejected 2 of 5" in caplog.text
        assert "alice" not in caplog.text

    def test_after_close_batches_are_dropped_and_counted(self, receiver: ScriptedReceiver) -> None:
        sink = sink_for(receiver)
        sink.close()
        sink.write(BATCH)
        sink.flush()
        assert sink.stats().dropped == 5
        assert receiver.requests == []


class TestCircuitBreaker:
    def test_outage_fails_fast_probes_once_per_window_and_resumes(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        port = free_port()
        sink = OtlpHttpSink(
            f"http://127.0.0.1:{port}/v1/logs",
            timeout=2.0,
            max_retries=3,
            backoff=0.01,
            max_backoff=0.02,
            cooldown=0.3,
            environ={},
        )
        personal = [out({"user.id": v, "client.address": v}) for v in PERSONAL]
        with caplog.at_level(logging.DEBUG, "privlog"):
            sink.write(personal)  # refused, retried 3 times, dropped; the breaker opens
            stats = sink.stats()
            assert (stats.retries, stats.failed_batches, stats.dropped, stats.circuit_open) == (3, 1, 3, True)
            start = time.monotonic()
            for _ in range(50):
                sink.write(personal)
            assert time.monotonic() - start < 0.05  # no connection attempts, no sleeping
            assert sink.stats().short_circuited == 50
            time.sleep(0.35)
            sink.write(personal)  # the probe: one attempt, no retries
            stats = sink.stats()
            assert (stats.retries, stats.failed_batches, stats.circuit_open) == (3, 2, True)
            sink.write(personal)  # inside the new window
            assert sink.stats().short_circuited == 51
            with ScriptedReceiver(port=port) as receiver:
                time.sleep(0.35)
                sink.write(personal)  # the probe gets through: export resumes
                sink.write(personal)
                sink.close()
        stats = sink.stats()
        assert (stats.exported, stats.circuit_open) == (6, False)
        assert stats.dropped == 3 * (1 + 50 + 1 + 1)
        assert len(receiver.records()) == 6
        assert caplog.text.count("OTLP export failed") == 1  # one warning per outage, not per batch
        assert "ConnectionRefusedError" in caplog.text
        assert "resumed" in caplog.text
        for value in PERSONAL:
            assert value not in caplog.text

    def test_write_never_raises_on_garbage(self, receiver: ScriptedReceiver) -> None:
        receiver.script.append(Reply(200, body=b"\xff" * 10))
        sink = sink_for(receiver)
        sink.write(BATCH)
        sink.close()
        assert sink.stats().exported == 5


class TestWithPrivacyLog:
    def test_requests_arrive_without_personal_data(self, receiver: ScriptedReceiver) -> None:
        listed = ListSink()
        sink = sink_for(receiver, compression="gzip", service_name="test")
        pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[listed, sink])
        app = FastAPI()
        app.add_middleware(PrivacyLogMiddleware, privlog=pl, user_id=lambda scope: "alice@example.com")

        @app.get("/users/{user_id}")
        async def user(user_id: int) -> dict[str, int]:
            return {"id": user_id}

        with TestClient(app, client=("127.0.0.1", 1234)) as c:
            c.get(
                "/users/90817263?q=jane&token=s3cr3t",
                headers={"x-forwarded-for": "198.51.100.77", "cookie": "session=sess-0123456789"},
            )
        pl.close()
        got = receiver.records()
        assert [{k: v for k, v in r.items() if not k.startswith("_")} for r in got] == [
            o.attributes for o in listed.records
        ]
        assert sink.stats().exported == len(listed.records) == 2
        wire = b"".join(r.body for r in receiver.requests)
        for value in [*PERSONAL, "jane", "s3cr3t", "90817263"]:
            assert value.encode() not in wire


class TestProxyAndDisabling:
    """The standard variables the SDK's exporter honours, honoured by the fast sink too."""

    def test_http_proxy_carries_the_batch(self, receiver: ScriptedReceiver) -> None:
        """The receiver stands in for a proxy: it gets the absolute URL of an unreachable collector."""
        env = {"HTTP_PROXY": f"http://user:p%40ss@127.0.0.1:{receiver.port}"}
        sink = OtlpHttpSink("http://collector.invalid:4318/v1/logs", timeout=5.0, environ=env)
        sink.write(BATCH)
        sink.close()
        assert sink.stats().exported == len(BATCH)
        (request,) = receiver.requests
        assert request.path == "http://collector.invalid:4318/v1/logs"
        assert request.headers["proxy-authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss

    def test_no_proxy_goes_direct(self, receiver: ScriptedReceiver) -> None:
        env = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "localhost,127.0.0.1"}
        sink = sink_for(receiver, environ=env)
        sink.write(BATCH)
        sink.close()
        assert sink.stats().exported == len(BATCH)
        assert receiver.requests[0].path == "/v1/logs"

    def test_https_goes_through_a_connect_tunnel(self) -> None:
        sink = OtlpHttpSink(
            "https://collector.example:4318/v1/logs", environ={"https_proxy": "proxy.example:3128"}
        )
        conn = sink._connect(1.0)
        assert (conn.host, conn.port) == ("proxy.example", 3128)
        assert (conn._tunnel_host, conn._tunnel_port) == ("collector.example", 4318)  # type: ignore[attr-defined]
        sink.close()

    def test_https_through_a_real_connect_proxy(self, tmp_path: Any) -> None:
        """A local proxy tunnels the TLS connection to a local HTTPS receiver: the batch arrives,
        the proxy saw CONNECT with the credentials from HTTPS_PROXY and nothing but ciphertext."""
        import ssl

        from ..support.connect_proxy import ConnectProxy, self_signed

        cert, key = self_signed(tmp_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        with ScriptedReceiver() as receiver, ConnectProxy() as proxy:
            receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
            env = {
                "HTTPS_PROXY": f"http://user:p%40ss@127.0.0.1:{proxy.port}",
                "NO_PROXY": "example.invalid",
                "OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert),
            }
            sink = OtlpHttpSink(f"https://localhost:{receiver.port}/v1/logs", timeout=5.0, environ=env)
            sink.write(BATCH)
            sink.write(BATCH)  # the kept-alive tunnel carries the next batch too
            sink.close()
            assert sink.stats().exported == 2 * len(BATCH)
            assert [r.path for r in receiver.requests] == ["/v1/logs", "/v1/logs"]
            (line,) = [line for line, _ in proxy.requests]  # one tunnel, kept alive
            assert line.startswith(f"CONNECT localhost:{receiver.port} HTTP/1.")
            assert proxy.requests[0][1]["proxy-authorization"] == "Basic dXNlcjpwQHNz"
            assert proxy.relayed > 0
            assert {r["user.id"] for r in receiver.records()} == {b.attributes["user.id"] for b in BATCH}

    def test_a_bad_proxy_url_names_the_variable_only(self) -> None:
        with pytest.raises(ConfigurationError, match="HTTPS_PROXY: not a proxy URL") as info:
            OtlpHttpSink("https://c.example/v1/logs", environ={"HTTPS_PROXY": "ftp://secret@proxy"})
        assert "secret" not in str(info.value)

    def test_otel_sdk_disabled_turns_otlp_export_off(self, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
        from privlog.sinks.jsonl import JsonlStore
        from privlog.sinks.select import build_sinks

        from ..support.policies import ENV, policy_dict

        env = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
        auto = Policy.from_dict(policy_dict(), environ=ENV)
        sinks = build_sinks(auto, directory=str(tmp_path), environ=env)
        assert [type(s) for s in sinks] == [JsonlStore]  # "auto": as if nothing asked for OTLP
        explicit = Policy.from_dict({**policy_dict(), "export": {"sink": "otlp"}}, environ=ENV)
        assert [(type(s).__name__, s.name) for s in build_sinks(explicit, directory=str(tmp_path), environ=env)] == [
            ("DisabledExport", "otlp")  # counts what it is handed as lost: see test_otel_sdk_disabled.py
        ]
        assert "OTEL_SDK_DISABLED" in caplog.text
        for sink in sinks:
            sink.close()
