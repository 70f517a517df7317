"""The apps ``test_loopback.py`` serves with uvicorn: bare, and logged by privlog.

``access``: seed 002's policy (one stream, truncated addresses); ``security``: seed 000's (two
streams, keyed hashes, pseudonyms). Both write the JSONL store in ``PRIVLOG_BENCH_DIR``, so the
worker's whole job runs in the server process.
"""

from __future__ import annotations

import os
from pathlib import Path

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


bare = Starlette(routes=[Route("/users/{user_id:int}", user)])


def _logged(policy: str) -> PrivacyLogMiddleware:
    privlog = PrivacyLog(
        Policy.from_toml(
            EXAMPLES / policy, environ={"PRIVLOG_SECRET": "benchmark-secret-benchmark-secret-0123"}
        ),
        directory=os.environ["PRIVLOG_BENCH_DIR"],  # set by test_loopback.py: a temporary directory
    )
    return PrivacyLogMiddleware(Starlette(routes=[Route("/users/{user_id:int}", user)]), privlog=privlog)


def access() -> PrivacyLogMiddleware:
    return _logged("access-7-days.toml")


def security() -> PrivacyLogMiddleware:
    return _logged("security-90-days.toml")


def otel() -> OpenTelemetryMiddleware:
    return OpenTelemetryMiddleware(
        Starlette(routes=[Route("/users/{user_id:int}", user)]), tracer_provider=TracerProvider()
    )
