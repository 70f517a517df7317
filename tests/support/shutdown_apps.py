"""Apps that the shutdown tests serve with real servers (``test_shutdown.py``).

Configured by the environment: ``PRIVLOG_TEST_DIR`` (the JSONL store). ``flush_interval`` is a
minute, so a record reaches the disk only through the flush at shutdown. ``/hello`` answers at
once, ``/slow`` after 0.6 s (it is in flight when the signal arrives).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from .shutdown_policy import SLOW, policy


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from privlog import PrivacyLogMiddleware

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    async def slow(request: Request) -> PlainTextResponse:
        await asyncio.sleep(SLOW)
        return PlainTextResponse("slow")

    app = Starlette(routes=[Route("/hello", hello), Route("/slow", slow)])
    app.add_middleware(PrivacyLogMiddleware, policy=policy())  # built on first use, as in the README
    return app


def _wsgi() -> Callable[..., Iterable[bytes]]:
    from privlog.wsgi import PrivacyLogMiddleware

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/slow":
            time.sleep(SLOW)
        body = b"hello"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return PrivacyLogMiddleware(app, policy())


starlette_app = _starlette()
wsgi_app = _wsgi()
