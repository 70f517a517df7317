"""Helpers for the compiled path's differential tests: captures from plain facts, and the
reference bytes the Python pipeline and sinks make of them."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from privlog import Pipeline, Policy
from privlog._core.capture import Capture, Facts
from privlog._core.native import NS_PER_DAY, NativePipeline
from privlog._core.record import Output
from privlog.sinks._otlp_encode import LogEncoder
from privlog.sinks.jsonl import JsonlStore

OBSERVED = 1_764_000_001_000_000_000


def read_facts(source: Mapping[str, Any], wanted: frozenset[bytes]) -> Facts:
    """A reader over plain facts: what a framework reader would have read."""
    headers = {k: v for k, v in source.get("headers", {}).items() if k in wanted}
    return Facts(
        source.get("method"),
        source.get("scheme"),
        source.get("http_version"),
        source.get("path"),
        source.get("route"),
        source.get("query", b""),
        source.get("peer"),
        source.get("client_port"),
        headers,
    )


def make_capture(facts: Mapping[str, Any] | None, **numbers: Any) -> Capture:
    values = {
        "kind": "http",
        "start_ns": 1_764_000_000_123_456_789,
        "duration_ns": 1_500_000,
        "status": 200,
        "request_bytes": None,
        "response_bytes": 345,
        "user_id": None,
        "extra": None,
        **numbers,
    }
    return Capture(
        values["kind"],
        read_facts if facts is not None else None,
        facts,
        values["start_ns"],
        values["duration_ns"],
        values["status"],
        values["request_bytes"],
        values["response_bytes"],
        values["user_id"],
        values["extra"],
    )


class Reference:
    """What the Python path makes of a batch: OTLP bytes, JSONL files, failures."""

    def __init__(self, pipeline: Pipeline, encoder: LogEncoder, captures: Sequence[Capture]) -> None:
        self.outputs: list[Output] = []
        self.failed = 0
        for capture in captures:
            try:
                self.outputs.extend(pipeline.process(capture))
            except Exception:
                self.failed += 1
        self.otlp = encoder.encode(self.outputs, OBSERVED)
        self.jsonl = jsonl_files(pipeline, self.outputs)


def jsonl_files(pipeline: Pipeline, outputs: Sequence[Output]) -> dict[str, bytes] | None:
    """The store's files after writing ``outputs`` in one batch, or None if the store raised."""
    days = {s.name: s.retention_days for s in pipeline.streams}
    with tempfile.TemporaryDirectory() as tmp:
        store = JsonlStore(tmp, days)
        try:
            store.write(outputs)
        except Exception:
            return None
        finally:
            store.close()
        return {str(p.relative_to(tmp)): p.read_bytes() for p in sorted(Path(tmp).glob("*/*.jsonl"))}


def native_jsonl_files(groups: Sequence[tuple[str, int, bytes, int]]) -> dict[str, bytes]:
    """The same files from the extension's chunks, laid out as the store lays them."""
    from datetime import date, timedelta

    files: dict[str, bytes] = {}
    for stream, day, chunk, lines in groups:
        assert lines == chunk.count(b"\n")  # the store counts what it wrote by this
        name = f"{stream}/{(date(1970, 1, 1) + timedelta(days=day)).isoformat()}.jsonl"
        files[name] = files.get(name, b"") + chunk
    return dict(sorted(files.items()))


def compare(policy: Policy, captures: Sequence[Capture]) -> tuple[int, int]:
    """Assert that both paths give the same bytes; returns (fallback captures, failed captures)."""
    pipeline = Pipeline(policy)
    encoder = LogEncoder({"service.name": "svc", "host.name": "h1"}, "privlog", "0.1.0")
    reference = Reference(pipeline, encoder, captures)
    native = NativePipeline(Pipeline(policy), encoder).run(captures, OBSERVED)
    assert native.failed == reference.failed
    assert native.batch.records == len(reference.outputs)
    assert native.batch.streams() == [o.stream for o in reference.outputs]
    assert native.batch.otlp() == reference.otlp
    if reference.jsonl is None:
        try:
            native.batch.jsonl()
        except ValueError:
            pass
        else:
            raise AssertionError("the store refused the batch, the extension's lines did not")
    else:
        assert native_jsonl_files(native.batch.jsonl()) == reference.jsonl
    assert NS_PER_DAY == 86_400 * 10**9
    return native.fallback, native.failed
