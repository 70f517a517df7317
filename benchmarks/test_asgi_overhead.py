"""Per-request cost of privlog's ASGI middleware against the bare app and its peers, one run.

    make bench    # or: pytest benchmarks --benchmark-only, then python benchmarks/report.py

Every request differs (path, query, cookie, client address, request id: ``conftest.distinct``),
so caches serve only what real traffic repeats. Two privlog figures: the request path alone (the worker idle, drained between rounds) and the
whole job (transforms and the JSONL write included, drained inside the timed round).
"""

from __future__ import annotations

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

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
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


class NoOpBase(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Any:
        return await call_next(request)


def privlog_app(tmp_path: Path) -> tuple[Any, PrivacyLog]:
    policy = Policy.from_toml(POLICY, environ=ENV)
    big = Policy(
        **{**policy.__dict__, "export": policy.export.__class__(queue_size=1_000_000, flush_interval=3600)}
    )
    store = JsonlStore(tmp_path, {s.name: s.retention.days for s in big.streams})
    pl = PrivacyLog(big, sinks=[store])
    return PrivacyLogMiddleware(bare(), privlog=pl), pl


pytestmark = pytest.mark.benchmark(group="asgi")


def test_bare_app(per_request: Callable[..., None]) -> None:
    per_request(bare())


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


def test_asgi_correlation_id(per_request: Callable[..., None]) -> None:
    per_request(CorrelationIdMiddleware(bare()))


def test_opentelemetry_asgi_instrumentation(per_request: Callable[..., None]) -> None:
    per_request(OpenTelemetryMiddleware(bare(), tracer_provider=TracerProvider()), rounds=10)


def test_starlette_base_http_middleware(per_request: Callable[..., None]) -> None:
    per_request(NoOpBase(bare()), rounds=10)
