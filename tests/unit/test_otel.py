"""The OpenTelemetry sink: records become OTel log records; OTLP/HTTP carries them whole."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from privlog.sinks._summary import duration_text
from privlog.sinks.otel import OpenTelemetrySink
from privlog.sinks.otelenv import env_requests_otel

from ..support.otlp_receiver import OtlpReceiver
from ..support.policies import ENV, FULL

PERSONAL = [b"198.51.100.77", b"alice@example.com", b"sess-0123456789", b"jane", b"s3cr3t", b"/users/90817263"]


def app_with(privlog: PrivacyLog) -> FastAPI:
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, privlog=privlog, user_id=lambda scope: "alice@example.com")

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    return app


def send_personal_request(app: FastAPI) -> None:
    with TestClient(app, client=("127.0.0.1", 1234)) as c:
        c.get(
            "/users/90817263?q=jane&token=s3cr3t",
            headers={
                "x-forwarded-for": "198.51.100.77",
                "cookie": "session=sess-0123456789",
                "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            },
        )


class TestOpenTelemetrySink:
    def test_records_arrive_through_the_apps_own_provider(self) -> None:
        exporter = InMemoryLogRecordExporter()
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), logger_provider=provider)
        assert isinstance(pl.sinks[0], OpenTelemetrySink)
        send_personal_request(app_with(pl))
        pl.flush()
        logs = exporter.get_finished_logs()
        by_stream = {lg.log_record.attributes["privlog.stream"]: lg.log_record for lg in logs}
        sec = by_stream["security"]
        assert sec.attributes["http.route"] == "/users/{user_id}"
        assert sec.attributes["privlog.retention.days"] == 90
        assert sec.body == f"GET /users/{{user_id}} 200 {duration_text(sec.attributes['http.server.request.duration'])}"
        assert (sec.severity_number, sec.severity_text) == (SeverityNumber.INFO, "INFO")
        assert sec.event_name == "http.request"
        assert sec.timestamp is not None
        assert sec.observed_timestamp is not None
        assert sec.timestamp <= sec.observed_timestamp
        blob = repr([dict(lg.log_record.attributes) for lg in logs]).encode()
        for value in PERSONAL:
            assert value not in blob
        pl.close()

    def test_otlp_http_from_standard_environment_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        with OtlpReceiver() as receiver:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
            monkeypatch.delenv("OTEL_LOGS_EXPORTER", raising=False)
            pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV))  # sink "auto": the env asks for OTLP
            send_personal_request(app_with(pl))
            pl.close()  # flushes the BatchLogRecordProcessor
            assert {r["privlog.stream"] for r in receiver.records} == {"security", "analytics"}
            sec = next(r for r in receiver.records if r["privlog.stream"] == "security")
            for attr in (
                "privlog.client.address",
                "user.id",
                "session.id",
                "http.route",
                "user_agent.name",
                "privlog.retention.expires_at",
                "privlog.key_id",
                "privlog.legal_basis",
            ):
                assert attr in sec
            assert receiver.resources[0]["service.name"] == "test"
            assert sec["_scope"] == "privlog"
            wire = b"".join(receiver.raw)
            for value in PERSONAL:
                assert value not in wire

    @pytest.mark.parametrize(
        ("env", "expected"),
        [
            ({}, False),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, True),
            ({"OTEL_LOGS_EXPORTER": "console"}, True),
            ({"OTEL_LOGS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, False),
        ],
    )
    def test_when_the_environment_asks_for_otel(self, env: dict[str, Any], expected: bool) -> None:
        assert env_requests_otel(env) is expected


class TestSinkChoice:
    @pytest.mark.parametrize(
        ("sink", "env", "expected"),
        [
            ("auto", {}, ["JsonlStore"]),
            ("auto", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["OtlpHttpSink"]),
            ("auto", {"OTEL_LOGS_EXPORTER": "console"}, ["OpenTelemetrySink"]),
            (
                "auto",
                {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_LOGS_EXPORTER": "none"},
                ["JsonlStore"],
            ),
            ("otlp", {}, ["OtlpHttpSink"]),
            ("both", {}, ["OtlpHttpSink", "JsonlStore"]),
            ("jsonl", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["JsonlStore"]),
        ],
    )
    def test_export_sink_setting(
        self,
        sink: str,
        env: dict[str, str],
        expected: list[str],
        tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_LOGS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        pl = PrivacyLog(Policy.from_dict({**FULL, "export": {"sink": sink}}, environ=ENV), directory=tmp_path)
        assert [type(s).__name__ for s in pl.sinks] == expected
        pl.close()
