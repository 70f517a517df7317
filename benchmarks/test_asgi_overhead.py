"""Per-request cost of privlog's ASGI middleware against the bare app and its peers, one run.

    make bench    # or: pytest benchmarks --benchmark-only, then python benchmarks/report.py

Every request differs (path, query, cookie, client address, request id: ``conftest.distinct``),
so caches serve only what real traffic repeats. Two privlog figures: the request path alone (the
worker idle, drained between rounds) and the whole job (transforms and the JSONL write included,
drained inside the timed round).

``test_whole_job_against_the_floor`` is the goal's in-process ratio: bare, the floor middleware,
and privlog's whole job on the Python pipeline and on the extension, interleaved in each round,
measured as the GIL-held CPU time per request (see ``conftest.interleaved_cpu``).
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asgi_correlation_id import CorrelationIdMiddleware
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from conftest import REQUESTS_PER_ROUND, interleaved_cpu, make_runner
from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from privlog._core.native import available
from privlog.sinks.jsonl import JsonlStore

POLICY = Path(__file__).parent.parent / "examples" / "security-90-days.toml"
ENV = {"PRIVLOG_SECRET": "benchmark-secret-benchmark-secret-0123"}


async def user(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def bare() -> Starlette:
    return Starlette(routes=[Route("/users/{user_id:int}", user)])


class NoOp:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class Floor:
    """The least a logging middleware can do: a 12-field dict per request, appended to a deque.

    The issue's yardstick for privlog's whole job (request path plus worker) in process."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.records: deque[dict[str, Any]] = deque(maxlen=100_000)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.time_ns()
        status = 0

        async def sent(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, sent)
        client = scope.get("client") or (None, None)
        self.records.append(
            {
                "method": scope["method"],
                "scheme": scope["scheme"],
                "http_version": scope["http_version"],
                "path": scope["path"],
                "query": scope["query_string"],
                "client": client[0],
                "port": client[1],
                "headers": scope["headers"],
                "status": status,
                "start": start,
                "duration": time.time_ns() - start,
                "kind": "http",
            }
        )


class NoOpBase(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Any:
        return await call_next(request)


def privlog_app(tmp_path: Path, native: bool = False) -> tuple[Any, PrivacyLog]:
    """The security policy over a JSONL store, its worker idle (the benchmark drains it);
    ``native``: the extension if it can serve (else, and by default, the Python pipeline)."""
    policy = Policy.from_toml(POLICY, environ=ENV)
    big = Policy(
        **{**policy.__dict__, "export": policy.export.__class__(queue_size=1_000_000, flush_interval=3600)}
    )
    store = JsonlStore(tmp_path, {s.name: s.retention.days for s in big.streams})
    pl = PrivacyLog(big, sinks=[store], native=native)
    return PrivacyLogMiddleware(bare(), privlog=pl), pl


pytestmark = pytest.mark.benchmark(group="asgi")


def test_bare_app(per_request: Callable[..., None]) -> None:
    per_request(bare())


def test_floor_dict_and_deque_middleware(per_request: Callable[..., None]) -> None:
    per_request(Floor(bare()))


def test_noop_pure_asgi_middleware(per_request: Callable[..., None]) -> None:
    per_request(NoOp(bare()))


def test_privlog_request_path(per_request: Callable[..., None], tmp_path: Path) -> None:
    app, pl = privlog_app(tmp_path)
    per_request(app, setup=pl.flush)
    assert pl.stats().failed == 0
    pl.close()


def test_privlog_request_path_and_worker(per_request: Callable[..., None], tmp_path: Path) -> None:
    app, pl = privlog_app(tmp_path)
    per_request(app, after=pl.flush)
    assert pl.stats().exported > 0
    pl.close()


@pytest.mark.skipif(not available(), reason="privlog-native is not installed")
def test_privlog_request_path_and_native_worker(per_request: Callable[..., None], tmp_path: Path) -> None:
    app, pl = privlog_app(tmp_path, native=True)
    assert pl.dispatcher.native is not None
    per_request(app, after=pl.flush)
    assert pl.stats().exported > 0
    pl.close()


def test_asgi_correlation_id(per_request: Callable[..., None]) -> None:
    per_request(CorrelationIdMiddleware(bare()))


def test_opentelemetry_asgi_instrumentation(per_request: Callable[..., None]) -> None:
    per_request(OpenTelemetryMiddleware(bare(), tracer_provider=TracerProvider()), rounds=10)


def test_starlette_base_http_middleware(per_request: Callable[..., None]) -> None:
    per_request(NoOpBase(bare()), rounds=10)


GOAL_ROUNDS = 40


def released_counter(pl: PrivacyLog) -> list[int]:
    """A one-item list the extension's GIL-released nanoseconds are added to, batch by batch."""
    native = pl.dispatcher.native
    assert native is not None, "privlog-native cannot serve this policy"
    total = [0]
    run = native.run

    def counted(*args: Any, **kwargs: Any) -> Any:
        result = run(*args, **kwargs)
        total[0] += result.batch.released_ns
        return result

    native.run = counted  # type: ignore[method-assign]
    return total


def test_whole_job_against_the_floor(benchmark: Any, tmp_path: Path) -> None:
    """GIL-held CPU per request: privlog's request path plus its worker's batch (drained in this
    thread, inside the measured step), on each path, against the floor middleware."""
    steps: dict[str, Callable[[], int]] = {}
    loops = []
    logs: list[PrivacyLog] = []

    def add(name: str, app: Any, pl: PrivacyLog | None = None, released: list[int] | None = None) -> None:
        run, loop = make_runner(app)
        loops.append(loop)

        def step() -> int:
            before = released[0] if released is not None else 0
            run()
            if pl is not None:
                pl.flush()
            return released[0] - before if released is not None else 0

        steps[name] = step

    add("bare", bare())
    add("floor", Floor(bare()))
    py_app, py_log = privlog_app(tmp_path / "python", native=False)
    assert py_log.dispatcher.native is None
    logs.append(py_log)
    add("privlog_python", py_app, py_log)
    if available():
        ext_app, ext_log = privlog_app(tmp_path / "extension", native=True)
        logs.append(ext_log)
        add("privlog_extension", ext_app, ext_log, released_counter(ext_log))
    samples: dict[str, list[float]] = {}
    try:
        benchmark.pedantic(
            lambda: samples.update(interleaved_cpu(steps, GOAL_ROUNDS, REQUESTS_PER_ROUND)), rounds=1, iterations=1
        )
    finally:
        for pl in logs:
            pl.close()
        for loop in loops:
            loop.close()
    assert all(pl.stats().failed == 0 and pl.stats().exported > 0 for pl in logs)
    medians = {name: statistics.median(v) for name, v in samples.items()}
    benchmark.extra_info["goal_gil"] = {"us_per_request": medians, "rounds": GOAL_ROUNDS}
