"""Against a real OpenTelemetry collector: rotel (``pip install rotel``), on 127.0.0.1.

rotel receives OTLP/HTTP from privlog, decodes it, and forwards what it decoded over OTLP/HTTP
to a small receiver in the test, which decodes it again: a record arrives "whole" only if the
collector understood every attribute with its type. rotel's detailed debug log of every record
is kept too, to check that no raw personal data reached the collector in any form.
"""

from __future__ import annotations

import importlib.util
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from privlog._core.capture import Capture
from privlog._core.dispatcher import Sink
from privlog._core.record import as_exported
from privlog.asgi import read_asgi_scope
from privlog.sinks import _summary as summary
from privlog.sinks.otel import OpenTelemetrySink
from privlog.sinks.otlp import OtlpHttpSink

from ..support.otlp_fake import free_port
from ..support.otlp_receiver import OtlpReceiver
from ..support.policies import ENV, FULL, REQUEST_ID
from ..support.sinks import ListSink

pytestmark = pytest.mark.integration

#: Request ids of each phase of the outage test begin with these (ids are kept as UUIDs).
PHASES = {"before": "0000000b", "during": "0000000d", "after": "0000000a"}

_SPEC = importlib.util.find_spec("rotel")
ROTEL = Path(_SPEC.origin).parent / "rotel-agent" if _SPEC and _SPEC.origin else None
needs_rotel = pytest.mark.skipif(
    ROTEL is None or not ROTEL.exists(),
    reason="the rotel collector is not installed (pip install rotel==0.0.1a15)",
)

PERSONAL = [
    b"198.51.100.77",
    b"203.0.113.9",
    b"alice@example.com",
    b"sess-0123456789",
    b"jane",
    b"s3cr3t",
    b"90817263",
    b"acme-corp",
]
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


class Rotel:
    """One rotel process: OTLP/HTTP in on ``port``, OTLP/HTTP out to ``forward_to``, debug log to a file."""

    def __init__(self, directory: Path, forward_to: str) -> None:
        self.directory = directory
        self.forward_to = forward_to
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.debug_log = directory / "rotel-debug.log"
        self._out: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/logs"

    def start(self) -> None:
        """Start on the same port as before; return once it accepts connections."""
        assert ROTEL is not None
        self._out = self.debug_log.open("ab")
        args = [
            str(ROTEL),
            "start",
            "--otlp-http-endpoint",
            f"127.0.0.1:{self.port}",
            "--otlp-grpc-endpoint",
            f"127.0.0.1:{free_port()}",
            "--exporter",
            "otlp",
            "--otlp-exporter-protocol",
            "http",
            "--otlp-exporter-endpoint",
            self.forward_to,
            "--otlp-exporter-compression",
            "none",
            "--batch-timeout",
            "20ms",
            "--debug-log",
            "logs",
            "--debug-log-verbosity",
            "detailed",
            "--pid-file",
            str(self.directory / "rotel.pid"),
            "--log-file",
            str(self.directory / "rotel.log"),
        ]
        self.proc = subprocess.Popen(
            args, stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"rotel exited with {self.proc.returncode}: {self.debug_log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        pytest.fail("rotel did not listen within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._out is not None:
            self._out.close()
            self._out = None


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


@pytest.fixture
def rotel(tmp_path: Path, receiver: OtlpReceiver) -> Iterator[Rotel]:
    r = Rotel(tmp_path, receiver.endpoint)
    r.start()
    try:
        yield r
    finally:
        r.stop()


def app_with(pl: PrivacyLog) -> FastAPI:
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, privlog=pl, user_id=lambda scope: "alice@example.com")

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    return app


def personal_request(c: TestClient, request_id: str = REQUEST_ID, **extra: str) -> float:
    """One request full of personal data; returns its wall time."""
    start = time.perf_counter()
    r = c.get(
        "/users/90817263?q=jane&token=s3cr3t&page=2",
        headers={
            "x-forwarded-for": "198.51.100.77",
            "cookie": "session=sess-0123456789",
            "user-agent": UA,
            "accept-language": "de-DE,de;q=0.9",
            "referer": "https://mail.example.com/inbox?u=jane",
            "x-request-id": request_id,
            "x-tenant": "acme-corp",
            **extra,
        },
    )
    elapsed = time.perf_counter() - start
    assert r.status_code == 200
    return elapsed


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def comparable(rec: dict[str, Any]) -> tuple[Any, ...]:
    """A record's attributes as exported: request headers are lists of one string over OTLP."""
    return tuple(sorted((k, repr(as_exported(k, v))) for k, v in rec.items()))


def assert_arrived_whole(listed: ListSink, receiver: OtlpReceiver, rotel: Rotel) -> None:
    """Every record handed to the sinks arrived with every attribute, value and type, and nothing personal."""
    expected = listed.records
    assert len(expected) >= 6
    assert wait_for(lambda: len(receiver.records) >= len(expected))
    time.sleep(0.1)  # nothing more should come
    got = [{k: v for k, v in r.items() if not k.startswith("_")} for r in receiver.records]
    assert sorted(map(comparable, got)) == sorted(comparable(o.attributes) for o in expected)
    stamps = sorted(r["_time_unix_nano"] for r in receiver.records)
    assert stamps == sorted(o.timestamp_ns for o in expected)
    assert {r["_scope"] for r in receiver.records} == {"privlog"}
    # the line and the severity, from the attributes as they arrived (nothing else)
    assert sorted((r["_body"], r["_severity"]) for r in receiver.records) == sorted(
        (summary.body(a), summary.severity(a)) for a in got
    )
    assert any(r["_body"].startswith("GET /users/{user_id} 200 ") for r in receiver.records)
    assert [r["_event_name"] for r in receiver.records] == [r["event.name"] for r in receiver.records]
    assert {res["service.name"] for res in receiver.resources} == {"test"}
    sec = next(r for r in receiver.records if r["privlog.stream"] == "security" and r["event.name"] == "http.request")
    for attr in ("privlog.client.address", "user.id", "session.id", "user_agent.name", "privlog.key_id"):
        assert attr in sec
    assert isinstance(sec["http.response.status_code"], int)
    assert isinstance(sec["http.server.request.duration"], float)
    wire = b"".join(receiver.raw)
    debug = rotel.debug_log.read_bytes()
    assert b"InstrumentationScope privlog" in debug
    assert b"privlog.retention.expires_at" in debug
    for value in PERSONAL:
        assert value not in wire, value
        assert value not in debug, value


def run_requests(pl: PrivacyLog) -> None:
    with TestClient(app_with(pl), client=("127.0.0.1", 1234)) as c:
        personal_request(c)
        personal_request(c, "req-2", **{"sec-gpc": "1"})  # not in the consent-gated stream
        personal_request(c, "req-3", **{"x-forwarded-for": "203.0.113.9"})
        for i in range(4, 8):
            personal_request(c, f"req-{i}")
    pl.auth_event("login_failure", user_id="alice@example.com")


@needs_rotel
class TestThroughRotel:
    def test_the_fast_exporter(self, rotel: Rotel, receiver: OtlpReceiver) -> None:
        listed = ListSink()
        sink = OtlpHttpSink(rotel.url, compression="gzip", service_name="test", timeout=5.0, environ={})
        pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[listed, sink])
        run_requests(pl)
        pl.close()
        stats = sink.stats()
        assert (stats.exported, stats.dropped, stats.retries) == (len(listed.records), 0, 0)
        assert_arrived_whole(listed, receiver, rotel)

    def test_the_sdk_sink(self, rotel: Rotel, receiver: OtlpReceiver) -> None:
        listed = ListSink()
        provider = LoggerProvider(resource=Resource.create({"service.name": "test"}))
        provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=rotel.url), schedule_delay_millis=50)
        )
        sinks: list[Sink] = [listed, OpenTelemetrySink(provider, owns_provider=True)]
        pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=sinks)
        run_requests(pl)
        pl.close()
        assert_arrived_whole(listed, receiver, rotel)


@needs_rotel
def test_outage_does_not_slow_requests_and_export_resumes(rotel: Rotel, receiver: OtlpReceiver) -> None:
    queue_size = 64
    policy = Policy.from_dict(
        {**FULL, "export": {"queue_size": queue_size, "batch_size": 16, "flush_interval": 0.05}}, environ=ENV
    )
    listed = ListSink()
    sink = OtlpHttpSink(
        rotel.url,
        service_name="test",
        timeout=1.0,
        max_retries=3,
        backoff=0.05,
        max_backoff=0.2,
        cooldown=0.5,
        environ={},
    )
    pl = PrivacyLog(policy, sinks=[listed, sink])

    queued: list[int] = []

    def paced(c: TestClient, prefix: str, n: int, queued: list[int]) -> list[float]:
        """``n`` requests 10 ms apart (the same pace before and during the outage); their wall times."""
        times = []
        for i in range(n):
            times.append(personal_request(c, f"{PHASES[prefix]}-0000-4000-8000-{i:012x}"))
            queued.append(pl.stats().queued)
            time.sleep(0.01)
        return times

    def arrived(prefix: str) -> int:
        return sum(
            1
            for r in receiver.records
            if str((r.get("http.request.header.x-request-id") or [""])[0]).startswith(PHASES[prefix.rstrip("-")])
        )

    with TestClient(app_with(pl), client=("127.0.0.1", 1234)) as c:
        before = paced(c, "before", 60, queued)
        pl.flush()
        assert wait_for(lambda: arrived("before-") == 60)

        rotel.stop()  # the collector goes away
        start = time.monotonic()
        during = paced(c, "during", 150, queued)
        outage_requests = time.monotonic() - start

        # A burst straight into the dispatcher while the worker is retrying or failing fast.
        sc = {"type": "http", "method": "GET", "path": "/x", "headers": [], "client": ("198.51.100.77", 1)}
        submit_times = []
        for _ in range(2000):
            cap = Capture.of("http", reader=read_asgi_scope, source=sc, start_ns=time.time_ns(), duration_ns=1000, status=200, request_bytes=0, response_bytes=0)
            t0 = time.perf_counter()
            pl.dispatcher.submit(cap)
            submit_times.append(time.perf_counter() - t0)
            queued.append(pl.stats().queued)
        pl.flush()
        outage = sink.stats()
        handed = len(listed.records)
        dispatcher = pl.stats()

        rotel.start()  # the collector is back, on the same port
        resumed_at = time.monotonic()
        i = 0
        while arrived("after-") == 0 and time.monotonic() - resumed_at < 10:
            personal_request(c, f"{PHASES['after']}-0000-4000-8000-{i:012x}")
            i += 1
            time.sleep(0.05)
        resumed_in = time.monotonic() - resumed_at
    pl.close()

    report = {
        "request median before (ms)": round(statistics.median(before) * 1e3, 2),
        "request median during outage (ms)": round(statistics.median(during) * 1e3, 2),
        "request max during outage (ms)": round(max(during) * 1e3, 2),
        "slowest": sorted((round(d * 1e3, 1), i) for i, d in enumerate(during))[-5:],
        "outage request phase (s)": round(outage_requests, 2),
        "submit median (µs)": round(statistics.median(submit_times) * 1e6, 2),
        "submit max (ms)": round(max(submit_times) * 1e3, 2),
        "max queued": max(queued),
        "sink during outage": outage,
        "dispatcher": dispatcher,
        "resumed in (s)": round(resumed_in, 2),
        "sink at end": sink.stats(),
    }
    print(report)
    # The request path never waits for the collector.
    assert statistics.median(during) < 3 * statistics.median(before) + 0.005, report
    assert max(during) < 0.5, report  # well under the sink's 1 s budget per batch
    assert statistics.median(submit_times) < 50e-6, report
    # Memory stays bounded: the queue never grows past its size; overflow is dropped and counted.
    assert max(queued) <= queue_size, report
    assert dispatcher.dropped > 0, report
    # The sink keeps no backlog: every record handed to it was exported or dropped, and counted.
    assert outage.exported + outage.dropped == handed, report
    assert outage.retries >= 1, report
    assert outage.failed_batches >= 1, report
    assert outage.short_circuited >= 1, report
    assert outage.dropped > 0, report
    assert outage.circuit_open, report
    assert len(sink.encoder._cache) <= 4096
    # Export resumed by itself.
    assert arrived("after-") >= 1, report
    assert not sink.stats().circuit_open, report
    assert sink.stats().exported > outage.exported, report
    assert arrived("during-") < 150
    wire = b"".join(receiver.raw)
    for value in PERSONAL:
        assert value not in wire
