"""The apps ``test_loopback.py`` and ``test_wrk_loopback.py`` serve with uvicorn: bare, and
logged by privlog.

``access``: the seven-day access-log policy (one stream, truncated addresses); ``security``: the
90-day security policy (two streams, keyed hashes, pseudonyms); ``status``: one stream recording
only the status, so what it costs is privlog's own fixed cost per request. All write the JSONL
store in ``PRIVLOG_BENCH_DIR``, so the worker's whole job runs in the server process. Each
policy comes three ways: ``access`` uses whichever worker path is installed, ``access_python``
forces the pure-Python pipeline (``PrivacyLog(native=False)``) and ``access_extension`` requires
the compiled one (privlog-native), failing at start-up when it cannot serve, so a benchmark
never reports the Python path under the extension's name. ``noop`` (a
pure-ASGI middleware doing nothing) and ``request_path`` (privlog's request path, its capture
dropped instead of queued) split that cost for bisecting.

On SIGUSR1 the server writes its garbage-collector counts, and how many captures privlog took
and dropped (its queue full), to ``PRIVLOG_BENCH_DIR/gc.json``.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware

EXAMPLES = Path(__file__).parent.parent / "examples"


async def user(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def bare() -> Starlette:
    return Starlette(routes=[Route("/users/{user_id:int}", user)])

ENV = {"PRIVLOG_SECRET": "benchmark-secret-benchmark-secret-0123"}
STATUS_ONLY = {
    "service": "bench",
    "retention": {"ops": {"days": 7, "purpose": "operations", "legal_basis": "legitimate interest"}},
    "streams": {"status": {"retention": "ops", "fields": {"status": "keep"}}},
}

_collections = [0, 0, 0]
_gc_seconds = [0.0]
_gc_started = [0.0]


def _count_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        _collections[info["generation"]] += 1
        _gc_seconds[0] += time.perf_counter() - _gc_started[0]


_logs: list[PrivacyLog] = []


def _write_gc_stats(signum: int, frame: Any) -> None:
    # privlog's counters read without its lock: a signal handler that waited for a lock the
    # interrupted code holds would never return. A count off by one does not matter here.
    captured = sum(pl.dispatcher._processed + len(pl.dispatcher._queue) + pl.dispatcher._dropped for pl in _logs)
    dropped = sum(pl.dispatcher._dropped for pl in _logs)
    path = Path(os.environ["PRIVLOG_BENCH_DIR"]) / "gc.json"
    path.write_text(
        json.dumps({"collections": _collections, "seconds": _gc_seconds[0], "captured": captured, "dropped": dropped})
    )


if "PRIVLOG_BENCH_DIR" in os.environ:
    gc.callbacks.append(_count_collection)
    signal.signal(signal.SIGUSR1, _write_gc_stats)


class NoOp:
    """A pure-ASGI middleware that does nothing: the floor of any middleware."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def noop() -> NoOp:
    return NoOp(bare())


def _logged(policy: str | Policy, native: bool | None = None) -> PrivacyLogMiddleware:
    """``native``: None uses the extension if it can serve, False never, True requires it."""
    privlog = PrivacyLog(
        Policy.from_toml(EXAMPLES / policy, environ=ENV) if isinstance(policy, str) else policy,
        directory=os.environ["PRIVLOG_BENCH_DIR"],  # set by the benchmark: a temporary directory
        native=native,
    )
    if native and privlog.dispatcher.native is None:
        raise RuntimeError("privlog-native is not installed or cannot serve this policy (make native)")
    if native is False and privlog.dispatcher.native is not None:
        raise RuntimeError("the Python pipeline was asked for, but the worker uses the extension")
    _logs.append(privlog)
    return PrivacyLogMiddleware(bare(), privlog=privlog)


def status() -> PrivacyLogMiddleware:
    return _logged(Policy.from_dict(STATUS_ONLY, environ=ENV))


def request_path() -> PrivacyLogMiddleware:
    """privlog's request path alone: the capture is made, then dropped instead of queued."""
    app = status()
    app._submit = lambda capture: None
    return app


def access() -> PrivacyLogMiddleware:
    return _logged("access-7-days.toml")


def security() -> PrivacyLogMiddleware:
    return _logged("security-90-days.toml")


def access_python() -> PrivacyLogMiddleware:
    return _logged("access-7-days.toml", native=False)


def access_extension() -> PrivacyLogMiddleware:
    return _logged("access-7-days.toml", native=True)


def security_python() -> PrivacyLogMiddleware:
    return _logged("security-90-days.toml", native=False)


def security_extension() -> PrivacyLogMiddleware:
    return _logged("security-90-days.toml", native=True)


def otel() -> OpenTelemetryMiddleware:
    return OpenTelemetryMiddleware(bare(), tracer_provider=TracerProvider())
