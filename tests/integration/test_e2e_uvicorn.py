"""End to end through a real uvicorn server on 127.0.0.1, with both sinks."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

from privlog import Policy, PrivacyLog
from privlog._demo import REQUESTS, _serve, run_demo
from privlog._demo.app import create_app

from ..support.otlp_receiver import OtlpReceiver
from ..support.policies import ENV

pytestmark = pytest.mark.integration

POLICY = Path(__file__).parents[2] / "examples" / "security-90-days.toml"


def personal_values() -> list[bytes]:
    """Every piece of personal data the demo sends, as it would appear if it leaked."""
    values = [
        b"203.0.113.195",
        b"2001:db8:85a3:8d3:1319:8a2e:370:7348",
        b"198.51.100.23",
        b"192.0.2.44",
        b"2001:db8:cafe::17",
        b"<script>",
        b"s3cr3t-session-9f8e7d6c5b",
        b"ws-session-1a2b3c4d",
        b"jane.doe",
        b"example.net",
        b"sk_live_51HxYzAbCdEf",
        b"alice@example.com",
        b"bob@example.org",
        b"tok-alice",
        b"hunter2",
        b"correct horse",
        b"carol@example.com",
        b"+49 170",
        b"9b2f6f5e",
        b"utm_source",
        b"article/42",
    ]
    assert all(
        any(v.decode() in str(vars(r)) for r in REQUESTS)
        or v in (b"carol@example.com", b"+49 170", b"ws-session-1a2b3c4d", b"2001:db8:cafe::17")
        for v in values
    )
    return values


class TestDemoOnUvicorn:
    def test_the_demo_logs_every_request_and_nothing_personal(self, tmp_path: Path) -> None:
        lines: list[str] = []
        assert run_demo(tmp_path / "store", out=lines.append) == 0
        files = sorted((tmp_path / "store").rglob("*.jsonl"))
        assert {f.parent.name for f in files} == {"security", "analytics"}
        blob = b"".join(f.read_bytes() for f in files)
        records = [orjson.loads(x) for x in blob.splitlines()]
        security = [r for r in records if r["privlog.stream"] == "security"]
        events = {r["event.name"] for r in security}
        assert events == {"http.request", "websocket.session", "auth.login_failure", "auth.login_success"}
        assert len(security) == len(REQUESTS) + 1 + 2  # requests, the WebSocket session, two auth events
        analytics = [r for r in records if r["privlog.stream"] == "analytics"]
        assert len(analytics) == len(REQUESTS) - 1  # the Sec-GPC request is not in the gated stream
        assert any(r.get("privlog.client.address") == "invalid" for r in security)  # hashed: privlog.*
        for value in personal_values():
            assert value not in blob, value
        # Short numbers can occur by chance inside hashes and durations: check where they could leak.
        for r in records:
            assert "4711" not in r.get("url.path", "")
            assert "4711" not in r.get("http.route", "")
        assert "counters: captured=" in "\n".join(lines)


class TestOtlpOnUvicorn:
    def test_records_reach_an_otlp_receiver_without_personal_data(self) -> None:
        policy = Policy.from_toml(POLICY, environ=ENV)
        with OtlpReceiver() as receiver:
            provider = LoggerProvider()
            provider.add_log_record_processor(
                BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{receiver.endpoint}/v1/logs"))
            )
            pl = PrivacyLog(policy, logger_provider=provider)
            server, thread, port = _serve(create_app(pl))
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
                    r = c.get(
                        "/users/4711?q=jane.doe%40example.net",
                        headers={
                            "x-forwarded-for": "203.0.113.195",
                            "authorization": "Bearer tok-alice-7f3a9c2e1b",
                        },
                    )
                    assert r.status_code == 200
            finally:
                server.should_exit = True
                thread.join(timeout=10)
            pl.close()
            provider.shutdown()
            sec = next(r for r in receiver.records if r["privlog.stream"] == "security")
            assert sec["http.route"] == "/users/{user_id}"
            assert sec["user.id"]
            wire = b"".join(receiver.raw)
            for value in (b"203.0.113.195", b"alice@example.com", b"jane.doe", b"tok-alice"):
                assert value not in wire
            assert all("4711" not in r.get("url.path", "") for r in receiver.records)
