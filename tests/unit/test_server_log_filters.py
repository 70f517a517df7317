"""privlog.logging: the filters on the servers' loggers and the app's, on real LogRecords."""

from __future__ import annotations

import io
import logging
import logging.config
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from gunicorn.glogging import SafeAtoms
from hypercorn.logging import AccessLogAtoms
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette

import privlog.logging as privlog_logging
from privlog import Policy, PolicyError, PrivacyLog, PrivacyLogMiddleware
from privlog._logging.servers import _colours
from privlog._transforms.address import parse_ip
from privlog.structlog import ScrubProcessor
from privlog.wsgi import PrivacyLogMiddleware as WsgiMiddleware

from ..support.policies import ENV, policy_dict
from ..support.sinks import ListSink

ACCESS = '%s - "%s %s HTTP/%s" %d'
ACCESS_ARGS = ("203.0.113.77:5555", "GET", "/users/4711?token=abc&page=2", "1.1", 200)


def make(**fields: Any) -> PrivacyLog:
    data = policy_dict(**fields) if fields else policy_dict()
    data["streams"]["access"]["fields"].setdefault("query", {"action": "allowlist", "allow": ["page"]})
    return PrivacyLog(
        Policy.from_dict({**data, "secret": {"env": "PRIVLOG_SECRET"}}, environ=ENV), sinks=[ListSink()]
    )


@pytest.fixture
def pl() -> Iterator[PrivacyLog]:
    p = make()
    yield p
    p.close()


@pytest.fixture(autouse=True)
def clean_loggers() -> Iterator[None]:
    privlog_logging.uninstall()
    yield
    privlog_logging.uninstall()


def emit(name: str, msg: str, *args: Any, **kwargs: Any) -> str:
    """Log through a real logger with a handler of its own; the formatted output."""
    logger = logging.getLogger(name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    old = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        logger.log(kwargs.pop("level", logging.INFO), msg, *args, **kwargs)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old[0])
        logger.propagate = old[1]
    return stream.getvalue()


def filters(name: str) -> list[logging.Filter]:
    return [f for f in logging.getLogger(name).filters if isinstance(f, privlog_logging.ServerLogFilter)]


class TestWiring:
    def test_the_asgi_middleware_filters_the_servers_loggers_once(self, pl: PrivacyLog) -> None:
        app = Starlette()
        PrivacyLogMiddleware(app, privlog=pl)
        PrivacyLogMiddleware(app, privlog=pl)
        for name in privlog_logging.SERVER_LOGGERS:
            assert len(filters(name)) == 1, name

    def test_a_newer_privlog_takes_the_filter_over(self, pl: PrivacyLog) -> None:
        PrivacyLogMiddleware(Starlette(), privlog=pl)
        other = make(client_ip="drop")
        try:
            WsgiMiddleware(lambda e, s: [], privlog=other)
            assert len(filters("uvicorn.access")) == 1
            assert emit("uvicorn.access", ACCESS, *ACCESS_ARGS).startswith('- - "GET')
        finally:
            other.close()

    def test_server_logs_false_leaves_the_loggers_alone(self, pl: PrivacyLog) -> None:
        PrivacyLogMiddleware(Starlette(), privlog=pl, server_logs=False)
        assert all(not filters(name) for name in privlog_logging.SERVER_LOGGERS)
        assert "203.0.113.77" in emit("uvicorn.access", ACCESS, *ACCESS_ARGS)

    def test_a_wrong_value_stops_start_up_naming_the_argument(self, pl: PrivacyLog) -> None:
        with pytest.raises(PolicyError, match=r"server_logs=.*must be 'rewrite', 'drop' or False"):
            PrivacyLogMiddleware(Starlette(), privlog=pl, server_logs="yes")  # type: ignore[arg-type]

    def test_an_unknown_stream_is_refused_by_name(self, pl: PrivacyLog) -> None:
        with pytest.raises(PolicyError, match=r"no stream named 'acess'.*access"):
            privlog_logging.install(pl, stream="acess")

    def test_the_filter_outlives_a_dictconfig_applied_after_it(self, pl: PrivacyLog) -> None:
        """uvicorn applies its LOGGING_CONFIG when the server starts; with ``uvicorn.run(app)``
        that is after the app (and a pure-ASGI middleware) was built."""
        from uvicorn.config import LOGGING_CONFIG

        PrivacyLogMiddleware(Starlette(), privlog=pl)
        logging.config.dictConfig(LOGGING_CONFIG)
        logger = logging.getLogger("uvicorn.access")
        stream = io.StringIO()
        logger.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logger.info(ACCESS, *ACCESS_ARGS)
        assert '203.0.113.0 - "GET /users/{id}?page HTTP/1.1" 200' in stream.getvalue()


class TestAccessLines:
    def test_uvicorn(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        assert (
            emit("uvicorn.access", ACCESS, *ACCESS_ARGS)
            == '203.0.113.0 - "GET /users/{id}?page HTTP/1.1" 200\n'
        )
        v6 = emit("uvicorn.access", ACCESS, "2001:db8:1234:5678::77:5555", "BREW", "/a", "1.1", 404)
        assert v6 == '2001:db8:1234:: - "_OTHER /a HTTP/1.1" 404\n'

    def test_uvicorns_websocket_handshake_lines(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        out = emit("uvicorn.error", '%s - "WebSocket %s" [accepted]', "2001:db8::7:51234", "/ws/4711?token=x")
        assert out == '2001:db8:: - "WebSocket /ws/{id}" [accepted]\n'
        privlog_logging.install(pl, mode="drop")
        assert emit("uvicorn.error", '%s - "WebSocket %s" 403', "203.0.113.77:0", "/ws/1") == ""

    def test_a_keyed_hash_is_the_records_own_pseudonym(self) -> None:
        pl = make(client_ip="hash", client_port="keep")
        try:
            privlog_logging.install(pl)
            line = emit("uvicorn.access", ACCESS, *ACCESS_ARGS)
            ring = pl.pipeline.keys.ring_for(time.time_ns())  # type: ignore[union-attr]
            packed = parse_ip("203.0.113.77")
            assert packed is not None
            assert line.startswith(f"{ring.keyed('hash', 'client_ip')(packed)}:5555 - ")
        finally:
            pl.close()

    def test_drop_mode_drops_access_lines_and_scrubs_the_rest(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl, mode="drop")
        assert emit("uvicorn.access", ACCESS, *ACCESS_ARGS) == ""
        assert emit("uvicorn.error", "failed for %s", "jane@example.org") == "failed for {email}\n"

    def test_gunicorn_atoms_keep_only_what_the_stream_records(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        atoms = SafeAtoms(
            {
                "h": "203.0.113.77",
                "u": "jane",
                "t": "[now]",
                "r": "GET /users/4711?token=abc HTTP/1.1",
                "s": "200",
                "q": "token=abc&page=2",
                "f": "https://news.example.com/profile/jane",
                "a": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "{cookie}i": "session=s3cr3t",
                "{x-forwarded-for}i": "198.51.100.4",
                "{set-cookie}o": "session=s3cr3t",
                "{content-type}o": "text/html",
                "{privlog_secret}e": "k" * 32,
            }
        )
        fmt = '%(h)s %(u)s %(t)s "%(r)s" %(s)s %(q)s "%(f)s" "%(a)s" %({cookie}i)s %({x-forwarded-for}i)s %({set-cookie}o)s %({content-type}o)s %({privlog_secret}e)s'
        assert emit("gunicorn.access", fmt, atoms) == (
            '203.0.113.0 - [now] "GET /users/{id} HTTP/1.1" 200 page "https://news.example.com" '
            '"Firefox 133 (Linux, desktop)" - - - text/html -\n'
        )

    def test_hypercorn_atoms(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/users/4711",
            "query_string": b"email=jane%40example.org",
            "headers": [(b"referer", b"https://x.example/jane"), (b"cookie", b"s=1")],
            "client": ("203.0.113.77", 5555),
        }
        atoms = AccessLogAtoms(scope, {"status": 200, "headers": []}, 0.01)  # type: ignore[arg-type]
        out = emit("hypercorn.access", '%(h)s "%(R)s" %(s)s "%(f)s" %({cookie}i)s %({Referer}i)s', atoms)
        assert out == '203.0.113.0 "GET /users/{id} 1.1" 200 "https://x.example" - https://x.example\n'

    def test_werkzeug_puts_the_address_in_the_message(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        line = "\x1b[33mGET /users/4711?email=a@b.c HTTP/1.1\x1b[0m"
        out = emit("werkzeug", '203.0.113.77 - - [12/Jun/2024 10:00:00] "%s" %s %s\n', line, "404", "-")
        assert (
            out
            == '203.0.113.0 - - [12/Jun/2024 10:00:00] "\x1b[33mGET /users/{id} HTTP/1.1\x1b[0m" 404 -\n\n'
        )

    @given(
        st.sampled_from(["", "\x1b[33m", "\x1b[1m\x1b[31m", "\x1b[0;32m"]),
        st.text(),
        st.sampled_from(["", "\x1b[0m", "\x1b[0m\x1b[0m"]),
    )
    def test_werkzeug_colours_split_off_without_losing_text(self, before: str, line: str, after: str) -> None:
        # The split is a plain branch, not an assert (gone under python -O): every text splits
        # into parts that join back to it, and the colour codes wrapped round a line come off it.
        parts = _colours(before + line + after)
        assert "".join(parts) == before + line + after
        if line and "\x1b" not in line:  # an empty line leaves the codes ambiguous
            assert parts == (before, line, after)

    def test_django_runserver(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        out = emit(
            "django.server",
            '"%s" %s %s',
            "GET /nope/jane%40example.org/?page=3&email=x HTTP/1.1",
            "404",
            "179",
            extra={"request": _Peer(), "server_time": "12/Jun/2024 10:00:00", "status_code": 404},
        )
        assert out == '"GET /nope/{email}/?page HTTP/1.1" 404 179\n'


class _Peer:
    def __str__(self) -> str:
        return "<socket raddr=('203.0.113.77', 5555)>"

    peer = "203.0.113.77"


class TestOtherMessages:
    def test_djangos_not_found_and_its_request(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        logger = logging.getLogger("django.request")
        seen: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = seen.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        try:
            logger.warning(
                "%s: %s",
                "Not Found",
                "/nope/jane@example.com/4711",
                extra={"request": _Peer(), "status_code": 404},
            )
        finally:
            logger.removeHandler(handler)
        record = seen[0]
        assert record.getMessage() == "Not Found: /nope/{email}/{id}"
        assert str(record.request) == "<socket raddr=('203.0.113.0', 5555)>"  # type: ignore[attr-defined]
        assert record.request.peer == "203.0.113.77"  # type: ignore[attr-defined]  # handlers still read it
        assert record.status_code == 404  # type: ignore[attr-defined]

    def test_a_traceback_is_scrubbed_and_the_exception_kept(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        try:
            raise RuntimeError("no account for jane@example.org")
        except RuntimeError:
            out = emit(
                "django.request",
                "Internal Server Error: %s",
                "/boom/4711",
                level=logging.ERROR,
                exc_info=True,
            )
        assert out.startswith("Internal Server Error: /boom/{id}\nTraceback (most recent call last):\n")
        assert out.endswith("RuntimeError: no account for {email}\n")

    def test_the_servers_banner_reads_as_it_is(self, pl: PrivacyLog) -> None:
        privlog_logging.install(pl)
        out = emit(
            "uvicorn.error", "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)", "http", "0.0.0.0", 8000
        )
        assert out == "Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)\n"

    def test_a_record_that_cannot_be_scrubbed_is_withheld_not_raised(self, pl: PrivacyLog) -> None:
        class Broken:
            def __str__(self) -> str:
                raise ValueError("jane@example.org")

        privlog_logging.install(pl)
        out = emit("waitress", "serving %s", Broken())
        assert "jane" not in out

    def test_the_filter_never_raises_even_on_a_broken_format(self, pl: PrivacyLog) -> None:
        f = privlog_logging.ScrubbingFilter(pl)
        record = logging.LogRecord(
            "app", logging.INFO, __file__, 1, "%d items for %s", ("x", "jane@example.org"), None
        )
        assert f.filter(record) is True
        assert record.args == ("x", "{email}")


class TestScrubbingFilter:
    def test_message_arguments_and_extra_fields(self, pl: PrivacyLog) -> None:
        logger = logging.getLogger("test.app")
        f = privlog_logging.ScrubbingFilter(pl)
        logger.addFilter(f)
        try:
            out = emit(
                "test.app",
                "login %s from %s",
                "jane.doe@example.org",
                "2001:db8:1234:5678::77",
                extra={
                    "user": {
                        "email": "jane.doe@example.org",
                        "ids": ["123e4567-e89b-12d3-a456-426614174000"],
                    },
                    "otelTraceID": "0af7651916cd43dd8448eb211c80319c",
                },
            )
        finally:
            logger.removeFilter(f)
        assert out == "login {email} from 2001:db8:1234::\n"

    def test_extra_fields_are_scrubbed_and_trace_ids_kept(self, pl: PrivacyLog) -> None:
        f = privlog_logging.ScrubbingFilter(pl)
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", None, None)
        record.user = {"email": "jane.doe@example.org", "ids": ["123e4567-e89b-12d3-a456-426614174000"]}
        record.otelTraceID = "0af7651916cd43dd8448eb211c80319c"
        f.filter(record)
        assert record.user == {"email": "{email}", "ids": ["{uuid}"]}
        assert record.otelTraceID == "0af7651916cd43dd8448eb211c80319c"

    def test_named_in_a_dictconfig_it_follows_the_process_privlog(self, pl: PrivacyLog) -> None:
        stream = io.StringIO()
        logging.config.dictConfig(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "filters": {"privacy": {"()": "privlog.logging.ScrubbingFilter"}},
                "handlers": {
                    "s": {"class": "logging.StreamHandler", "stream": stream, "filters": ["privacy"]}
                },
                "loggers": {"test.dictconfig": {"handlers": ["s"], "level": "INFO", "propagate": False}},
            }
        )
        logging.getLogger("test.dictconfig").info("from 203.0.113.77")
        assert stream.getvalue() == "from 203.0.113.0\n"  # the newest privlog's truncation


class TestStructlog:
    def test_every_value_and_the_rendered_traceback(self, pl: PrivacyLog) -> None:
        processor = ScrubProcessor(pl)
        try:
            raise KeyError("jane@example.org")
        except KeyError:
            event = structlog.processors.format_exc_info(
                None,
                "error",
                {"event": "failed for 203.0.113.77", "exc_info": True, "nested": {"auth": "Bearer abc"}},
            )
        out = processor(None, "error", event)
        assert out["event"] == "failed for 203.0.113.0"
        assert out["nested"] == {"auth": "Bearer {token}"}
        assert out["exception"].endswith("KeyError: '{email}'")
