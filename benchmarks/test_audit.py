"""``privlog audit`` over a store of a million records, against reading and parsing the same lines.

    pytest benchmarks/test_audit.py --benchmark-only --benchmark-json=/tmp/audit.json
    python benchmarks/report.py /tmp/audit.json

The store is written by privlog's pipeline from the 90-day example policy (a keyed security
stream and a consent-gated analytics stream): 2,000 distinct requests, their records repeated
to a million lines, as a busy day's store repeats its paths and browsers. The target of issue
#13 is under ten seconds for a million records on the project's 2-core machine.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import HEADERS, distinct
from privlog._core.capture import Capture
from privlog._core.pipeline import Pipeline
from privlog._notice.explain import load_policy
from privlog._ops.audit import audit_store
from privlog.asgi import read_asgi_scope
from privlog.sinks.jsonl import JsonlStore

RECORDS = 1_000_000
DISTINCT = 2_000
POLICY = Path(__file__).parents[1] / "examples" / "security-90-days.toml"
ENV = {"PRIVLOG_SECRET": "b" * 20 + "0123456789abcdefghij"}

pytestmark = pytest.mark.benchmark(group="audit")


def _scope(i: int) -> dict[str, Any]:
    path, query, cookie, address, request_id = distinct(i)
    headers = [(k, v) for k, v in HEADERS if k not in (b"cookie", b"x-forwarded-for", b"x-request-id")]
    headers += [
        (b"cookie", cookie.encode()),
        (b"x-forwarded-for", address.encode()),
        (b"x-request-id", request_id.encode()),
    ]
    return {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "http_version": "1.1",
        "path": path,
        "query_string": query.encode(),
        "client": ("127.0.0.1", 40000 + i % 20000),
        "headers": headers,
        "root_path": "",
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    return write_store(tmp_path_factory.mktemp("audit") / "store", RECORDS)


def write_store(root: Path, records: int) -> tuple[Path, Any]:
    """A store of ``records`` records of the example policy's two streams."""
    policy = load_policy(POLICY, environ=ENV)
    pipeline = Pipeline(policy)
    JsonlStore(root, {s.name: s.retention.days for s in policy.streams}).close()
    now = time.time_ns()
    lines: dict[str, list[bytes]] = {s.name: [] for s in policy.streams}
    for i in range(DISTINCT):
        cap = Capture.of(
            "http",
            reader=read_asgi_scope,
            source=_scope(i),
            start_ns=now,
            duration_ns=1_000_000,
            status=200,
            response_bytes=512,
            user_id=f"user-{i % 300}",
        )
        for rec in pipeline.process(cap):
            lines[rec.stream].append(
                orjson.dumps({"timestamp": "2026-11-29T10:00:00.000Z", **rec.attributes})
            )
    per_stream = records // len(lines)
    for name, block in lines.items():
        path = root / name / time.strftime("%Y-%m-%d.jsonl", time.gmtime())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            chunk = b"\n".join(block) + b"\n"
            for _ in range(per_stream // len(block)):
                fh.write(chunk)
    return root, policy


def test_parse_only(benchmark: Any, store: tuple[Path, Any]) -> None:
    """The floor: read and parse every line, check nothing."""
    root, _ = store

    def parse() -> int:
        n = 0
        for path in root.glob("*/*.jsonl"):
            with path.open("rb") as fh:
                for line in fh:
                    orjson.loads(line)
                    n += 1
        return n

    benchmark.extra_info["requests_per_round"] = RECORDS
    assert benchmark.pedantic(parse, rounds=3, iterations=1) == RECORDS


def test_audit(benchmark: Any, store: tuple[Path, Any]) -> None:
    root, policy = store
    benchmark.extra_info["requests_per_round"] = RECORDS
    report = benchmark.pedantic(audit_store, args=(root, policy), rounds=3, iterations=1)
    assert report.records == RECORDS
    assert report.clean, report.findings
