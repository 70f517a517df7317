"""The compiled path wired into the worker: the same files, OTLP requests and counts as Python.

A ``PrivacyLog`` with the extension (``native=True``) and one without (``native=False``) are
given the same captures; the JSONL store's files must be byte-identical, the OTLP requests
equal but for the time each was sent, and ``stats()`` the same. Skipped without the extension.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("privlog_native")

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from privlog import Pipeline, Policy, PrivacyLog
from privlog._core.native import NativePipeline
from privlog._keys.store import KeyStore
from privlog.sinks.jsonl import JsonlStore
from privlog.sinks.otlp import OtlpHttpSink

from ..support.native import make_capture
from ..support.otlp_fake import ScriptedReceiver
from ..support.policies import ENV, FULL
from ..support.sinks import ListSink

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def captures(n: int = 40) -> list[Any]:
    out = []
    for i in range(n):
        facts = {
            "method": "GET" if i % 3 else "PROPFIND",
            "scheme": "https",
            "http_version": "1.1",
            "path": f"/users/{i}" if i % 4 else "/a/jane@example.net",
            "query": f"page={i}&q=secret{i}".encode(),
            "peer": "10.0.0.2",
            "client_port": 4000 + i,
            "headers": {
                b"user-agent": UA,
                b"x-forwarded-for": f"203.0.113.{i}",
                b"cookie": f"session=s{i}",
                b"referer": "http://203.0.113.9:8080/x",
                b"accept-language": "de-DE",
                b"x-request-id": f"r{i}",
                b"x-tenant": "acme" if i % 5 else "",
                b"sec-gpc": "1" if i % 7 == 0 else "0",
            },
        }
        out.append(make_capture(facts, user_id=f"u{i}" if i % 2 else None, start_ns=1_764_000_000 * 10**9 + i * 10**9))
    out.append(make_capture({"path": "/a"}, user_id="a\ud800b"))  # handed back to Python
    return out


def reversible_full() -> Policy:
    data = {**FULL, "streams": {**FULL["streams"]}}
    security = dict(data["streams"]["security"])
    security["headers"] = {**security.get("headers", {}), "x-tenant": "reversible"}
    data["streams"]["security"] = security
    return Policy.from_dict(data, environ=ENV)


def run(policy: Policy, sinks: list[Any], native: bool) -> PrivacyLog:
    log = PrivacyLog(policy, sinks=sinks, native=native)
    assert (log.dispatcher.native is not None) is native
    for capture in captures():
        log.dispatcher.submit(capture)
    log.flush()
    return log


def without_observed_time(body: bytes) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    req.ParseFromString(body)
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            for lr in sl.log_records:
                lr.observed_time_unix_nano = 0
    return req


class TestTheWorker:
    def test_the_jsonl_store_gets_the_same_files_and_the_same_counts(self, tmp_path: Path) -> None:
        policy = reversible_full()
        days = {s.name: s.retention.days for s in policy.streams}
        logs = {}
        for native in (False, True):
            store = JsonlStore(tmp_path / str(native), days)
            logs[native] = run(policy, [store], native)
            logs[native].close()
        files = {
            native: {str(p.relative_to(tmp_path / str(native))): p.read_bytes() for p in sorted((tmp_path / str(native)).glob("*/*.jsonl"))}
            for native in (False, True)
        }
        assert files[True] == files[False]
        assert sum(len(v.splitlines()) for v in files[True].values()) > 40
        assert logs[True].stats() == logs[False].stats()
        assert logs[True].stats().rejected > 0  # request ids that are not UUIDs: left out, counted

    def test_the_otlp_sink_gets_the_same_requests(self) -> None:
        policy = reversible_full()
        bodies = {}
        stats = {}
        for native in (False, True):
            with ScriptedReceiver() as receiver:
                sink = OtlpHttpSink(receiver.url, service_name="svc", environ={})
                log = run(policy, [sink], native)
                log.close()
                bodies[native] = [without_observed_time(r.body) for r in receiver.requests]
                stats[native] = log.stats()
        assert bodies[True] == bodies[False]
        assert sum(len(sl.log_records) for b in bodies[True] for rl in b.resource_logs for sl in rl.scope_logs) > 40
        assert stats[True] == stats[False]

    def test_sinks_that_need_records_keep_the_python_pipeline(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        policy = Policy.from_dict(FULL, environ=ENV)
        assert PrivacyLog(policy, sinks=[ListSink()]).dispatcher.native is None
        store = JsonlStore(tmp_path, {s.name: s.retention.days for s in policy.streams})
        assert PrivacyLog(policy, sinks=[store]).dispatcher.native is not None
        monkeypatch.setenv("PRIVLOG_NATIVE", "0")
        assert PrivacyLog(policy, sinks=[store]).dispatcher.native is None


class TestKeys:
    def test_a_rotation_or_a_shred_wipes_the_extensions_copies(self, tmp_path: Path) -> None:
        today = datetime.now(timezone.utc).date()
        KeyStore.init(tmp_path / "keys", rotation="daily", retention_days=90)
        policy = Policy.from_dict({**FULL, "secret": {"store": str(tmp_path / "keys")}}, environ={})
        pipeline = Pipeline(policy)
        native = NativePipeline(pipeline)
        start = (today - date(1970, 1, 1)).days * 86_400 * 10**9
        caps = [make_capture({"path": "/a", "peer": "198.51.100.7"}, start_ns=start + i, user_id="u") for i in range(3)]
        assert native.run(caps, 1).batch.records == 6
        first = {h for _, h in native._epochs.values()}
        assert len(first) == 1  # one epoch: its key crossed once
        pipeline.keys.rotate()
        assert native.run(caps, 1).batch.records == 6
        second = {h for _, h in native._epochs.values()}
        assert second
        assert not first & second  # the old copy was dropped (and wiped)
        pipeline.keys.shred(today=today + timedelta(days=400))
        result = native.run(caps, 1)
        assert native._epochs == {}  # every key is gone, and so are the copies
        assert result.batch.streams() == ["analytics"] * 3  # the keyed stream skips them, as in Python


class TestAPanicInTheExtension:
    """A Rust panic reaches Python as PyO3's ``PanicException``, a BaseException: the worker
    must catch it like any other failure of the compiled path, not die or raise into the app."""

    def store_and_log(self, tmp_path: Path, name: str, native: bool) -> tuple[JsonlStore, PrivacyLog]:
        policy = Policy.from_dict(FULL, environ=ENV)
        store = JsonlStore(tmp_path / name, {s.name: s.retention.days for s in policy.streams})
        return store, PrivacyLog(policy, sinks=[store], native=native)

    def test_a_panic_while_transforming_hands_the_batch_to_python(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from privlog_native._native import PanicException

        _, reference = self.store_and_log(tmp_path, "python", native=False)
        _, log = self.store_and_log(tmp_path, "native", native=True)

        def panics(*args: Any, **kwargs: Any) -> Any:
            raise PanicException("index out of bounds")

        assert log.dispatcher.native is not None
        monkeypatch.setattr(log.dispatcher.native, "run", panics)
        for capture in captures():
            log.dispatcher.submit(capture)
            reference.dispatcher.submit(capture)
        log.flush()  # the caller's thread may run the batch: nothing may reach it
        reference.flush()
        assert log.dispatcher.native is None  # the Python pipeline took over
        assert log.stats() == reference.stats()
        assert log.stats().exported > 40
        log.close()
        reference.close()

    def test_a_panic_while_encoding_counts_the_records_as_lost(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from privlog_native._native import PanicException

        store, log = self.store_and_log(tmp_path, "native", native=True)

        def panics(batch: Any) -> None:
            raise PanicException("index out of bounds")

        monkeypatch.setattr(store, "write_encoded", panics)
        for capture in captures():
            log.dispatcher.submit(capture)
        log.flush()
        stats = log.stats()
        assert stats.exported == 0
        assert stats.failed > 40  # every record the store lost is counted
        assert stats.captured == len(captures())
        log.close()
