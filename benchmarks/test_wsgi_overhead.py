"""Per-request cost of privlog on Flask and Django against the bare apps, and OpenTelemetry's
WSGI middleware as the peer, in-process (no server, no socket), one run.

    pytest benchmarks/test_wsgi_overhead.py --benchmark-only --benchmark-json=/tmp/wsgi.json
    python benchmarks/report.py /tmp/wsgi.json

Each round sends REQUESTS requests through the WSGI callable with a prebuilt environ (path,
query, cookie, client address and request id differ in every request) and a no-op
``start_response``, consuming and closing the iterable as a server does. Two privlog
figures: the request path alone (worker drained between rounds) and the whole job
(transforms and the JSONL write included, drained inside the timed round).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path
from flask import Flask
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

from conftest import distinct, measure, serial
from privlog import Policy, PrivacyLog
from privlog.flask import PrivacyLogExtension
from privlog.sinks.jsonl import JsonlStore

REQUESTS = 200
POLICY = Path(__file__).parent.parent / "examples" / "security-90-days.toml"
ENV = {"PRIVLOG_SECRET": "benchmark-secret-benchmark-secret-0123"}
ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/users/4711",
    "QUERY_STRING": "page=2&q=jane",
    "SERVER_NAME": "example.com",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "51000",
    "HTTP_HOST": "example.com",
    "HTTP_USER_AGENT": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "HTTP_ACCEPT": "text/html,application/xhtml+xml",
    "HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.8",
    "HTTP_REFERER": "https://news.example.com/article/42?utm_source=mail",
    "HTTP_COOKIE": "session=s3cr3t-session-9f8e7d6c5b; theme=dark",
    "HTTP_X_FORWARDED_FOR": "203.0.113.195",
    "HTTP_X_REQUEST_ID": "bench-1",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": io.StringIO(),
    "wsgi.multithread": True,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
    return lambda data: None


def run_requests(app: Callable[..., Any]) -> None:
    """REQUESTS requests through ``app``, each with a fresh environ, iterated and closed."""
    for _ in range(REQUESTS):
        environ = dict(ENVIRON)
        path, query, cookie, client, request_id = distinct(next(serial))
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = query
        environ["HTTP_COOKIE"] = cookie
        environ["HTTP_X_FORWARDED_FOR"] = client
        environ["HTTP_X_REQUEST_ID"] = request_id
        environ["wsgi.input"] = io.BytesIO(b"")
        result = app(environ, start_response)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


@pytest.fixture
def per_request(benchmark: Any) -> Callable[..., None]:
    """Benchmark a WSGI ``app``; the stored figure is per round of REQUESTS requests."""

    def go(
        app: Callable[..., Any],
        rounds: int = 40,
        setup: Callable[[], None] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        measure(benchmark, lambda: run_requests(app), REQUESTS, rounds, setup, after)

    return go


@pytest.fixture
def privlog(tmp_path: Path) -> Iterator[PrivacyLog]:
    """The security policy with a JSONL store, a queue that never fills and no timed flush."""
    policy = Policy.from_toml(POLICY, environ=ENV)
    big = Policy(
        **{**policy.__dict__, "export": policy.export.__class__(queue_size=1_000_000, flush_interval=3600)}
    )
    pl = PrivacyLog(big, sinks=[JsonlStore(tmp_path, {s.name: s.retention.days for s in big.streams})])
    yield pl
    assert pl.stats().failed == 0
    pl.close()


# -- Flask --------------------------------------------------------------------------------


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> str:
        return "hello"

    return app


class TestFlask:
    pytestmark = pytest.mark.benchmark(group="flask")

    def test_bare_flask(self, per_request: Callable[..., None]) -> None:
        per_request(flask_app())

    def test_privlog_flask_request_path(self, per_request: Callable[..., None], privlog: PrivacyLog) -> None:
        app = flask_app()
        PrivacyLogExtension(app, privlog=privlog)
        per_request(app, setup=privlog.flush)

    def test_privlog_flask_request_path_and_worker(
        self, per_request: Callable[..., None], privlog: PrivacyLog
    ) -> None:
        app = flask_app()
        PrivacyLogExtension(app, privlog=privlog)
        per_request(app, after=privlog.flush)
        assert privlog.stats().exported > 0

    def test_opentelemetry_wsgi_flask(self, per_request: Callable[..., None]) -> None:
        app = flask_app()
        app.wsgi_app = OpenTelemetryMiddleware(app.wsgi_app, tracer_provider=TracerProvider())  # type: ignore[method-assign]
        per_request(app, rounds=20)


# -- Django -------------------------------------------------------------------------------


def django_handler(middleware: list[str]) -> Any:
    """A WSGIHandler with ``middleware``; settings are configured once for the process."""
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="benchmark-only-" + "x" * 40,
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            DATABASES={},
            USE_TZ=True,
        )
        django.setup()
    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()


def django_user(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("hello")


urlpatterns = [path("users/<int:pk>", django_user)]
PRIVLOG_MIDDLEWARE = ["privlog.django.middleware.PrivacyLogMiddleware"]


class TestDjango:
    pytestmark = pytest.mark.benchmark(group="django")

    def test_bare_django(self, per_request: Callable[..., None]) -> None:
        per_request(django_handler([]))

    def test_privlog_django_request_path(self, per_request: Callable[..., None], privlog: PrivacyLog) -> None:
        with override_settings(PRIVLOG=privlog):
            per_request(django_handler(PRIVLOG_MIDDLEWARE), setup=privlog.flush)

    def test_privlog_django_request_path_and_worker(
        self, per_request: Callable[..., None], privlog: PrivacyLog
    ) -> None:
        with override_settings(PRIVLOG=privlog):
            per_request(django_handler(PRIVLOG_MIDDLEWARE), after=privlog.flush)
        assert privlog.stats().exported > 0
