"""The WSGI middleware and the environ reader, on bare WSGI apps called as a server would."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import pytest

from privlog import Policy, PrivacyLog, UsageError
from privlog.wsgi import PrivacyLogMiddleware, read_wsgi_environ, user_from_environ

from ..support.policies import ENV, FULL, policy_dict
from ..support.sinks import ListSink, security

StartResponse = Callable[..., Any]


def environ(
    path: str = "/users/90817263", query: str = "page=2&token=s3cr3t", **extra: Any
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "example.test",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "52100",
        "HTTP_HOST": "example.test",
        "HTTP_X_FORWARDED_FOR": "198.51.100.77",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "HTTP_COOKIE": "session=abc123secret; theme=dark",
        "wsgi.url_scheme": "https",
    }
    env.update(extra)
    return env


class Server:
    """What a WSGI server does with an app: call, iterate, close; records start_response."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.written: list[bytes] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None and self.status is not None:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status = status
        return self.written.append

    def run(self, app: Callable[..., Iterable[bytes]], env: dict[str, Any] | None = None) -> bytes:
        result = app(env or environ(), self.start_response)
        try:
            return b"".join(self.written) + b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def hello(env: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"hello ", b"world"]


class FileWrapper:
    """A server's ``wsgi.file_wrapper``: the server sends an instance of it with sendfile()."""

    def __init__(self, filelike: io.BytesIO, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.filelike.read(self.block_size):
            yield chunk

    def close(self) -> None:
        self.filelike.close()


def send_file(headers: list[tuple[str, str]]) -> Callable[..., Iterable[bytes]]:
    def app(env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), *headers])
        wrapper: Callable[[io.BytesIO], Iterable[bytes]] = env["wsgi.file_wrapper"]
        return wrapper(io.BytesIO(b"hello world"))

    return app


def with_file_wrapper(wrapper: object) -> dict[str, Any]:
    return {**environ(), "wsgi.file_wrapper": wrapper}


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class TestMiddleware:
    def test_records_status_bytes_and_client(self, privlog: PrivacyLog, sink: ListSink) -> None:
        body = Server().run(PrivacyLogMiddleware(hello, privlog=privlog))
        (rec,) = security(sink, privlog)
        assert body == b"hello world"
        assert rec["http.response.status_code"] == 201
        assert rec["http.response.body.size"] == len(body)
        assert rec["http.request.body.size"] == 0  # no Content-Length, no Transfer-Encoding
        assert rec["http.request.method"] == "GET"
        assert rec["url.scheme"] == "https"
        assert rec["network.protocol.version"] == "1.1"
        assert rec["url.path"] == "/users/{id}"
        assert rec["client.port"] == 52100
        assert rec["privlog.client.address"] != "198.51.100.77"  # hashed, from X-Forwarded-For via 127.0.0.1

    def test_trusted_proxy_rules_apply(self, sink: ListSink) -> None:
        pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink])
        app = PrivacyLogMiddleware(hello, privlog=pl)
        Server().run(app, environ())  # from 127.0.0.1, a trusted proxy
        Server().run(app, environ(REMOTE_ADDR="203.0.113.5"))  # untrusted peer: XFF ignored
        pl.flush()
        first, second = sink.stream("analytics")
        assert first["client.address"] == "198.51.100.0"
        assert second["client.address"] == "203.0.113.0"

    def test_legacy_write_is_counted(self, privlog: PrivacyLog, sink: ListSink) -> None:
        def app(env: dict[str, Any], start_response: StartResponse) -> list[bytes]:
            write = start_response("200 OK", [])
            write(b"12345")
            return [b"678"]

        Server().run(PrivacyLogMiddleware(app, privlog=privlog))
        (rec,) = security(sink, privlog)
        assert rec["http.response.body.size"] == 8

    def test_streamed_response_is_recorded_after_close(self, privlog: PrivacyLog, sink: ListSink) -> None:
        closed: list[bool] = []

        def app(env: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
            start_response("200 OK", [])
            try:
                yield b"a" * 10
                yield b"b" * 5
            finally:
                closed.append(True)

        result = PrivacyLogMiddleware(app, privlog=privlog)(environ(), Server().start_response)
        chunks = list(result)
        assert security(sink, privlog) == []  # iterated but not closed: not finished yet
        result.close()  # type: ignore[attr-defined]
        (rec,) = security(sink, privlog)
        assert closed == [True]
        assert chunks == [b"a" * 10, b"b" * 5]
        assert rec["http.response.body.size"] == 15

    def test_close_twice_records_once(self, privlog: PrivacyLog, sink: ListSink) -> None:
        result: Any = PrivacyLogMiddleware(hello, privlog=privlog)(environ(), Server().start_response)
        list(result)
        result.close()
        result.close()
        assert len(security(sink, privlog)) == 1

    def test_app_raising_on_call_is_500_and_reraised(self, privlog: PrivacyLog, sink: ListSink) -> None:
        def app(env: dict[str, Any], start_response: StartResponse) -> list[bytes]:
            raise RuntimeError("app bug")

        with pytest.raises(RuntimeError, match="app bug"):
            Server().run(PrivacyLogMiddleware(app, privlog=privlog))
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 500

    def test_app_raising_while_iterating_keeps_the_status_sent_and_is_incomplete(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        def app(env: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
            start_response("200 OK", [])
            yield b"partial"
            raise ValueError("broken stream")

        with pytest.raises(ValueError, match="broken stream"):
            Server().run(PrivacyLogMiddleware(app, privlog=privlog))
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 200  # the bytes went out under 200
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] == len(b"partial")

    def test_server_closing_before_the_end_keeps_the_status_and_is_incomplete(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        """What a server does when the client hangs up mid-stream: stop iterating, close."""
        closed: list[bool] = []

        def app(env: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
            start_response("201 Created", [])
            try:
                yield b"first"
                yield b"never sent"
            finally:
                closed.append(True)

        result: Any = PrivacyLogMiddleware(app, privlog=privlog)(environ(), Server().start_response)
        assert next(iter(result)) == b"first"
        result.close()
        (rec,) = security(sink, privlog)
        assert closed == [True]
        assert rec["http.response.status_code"] == 201
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] == len(b"first")

    def test_closed_without_being_iterated_is_incomplete(self, privlog: PrivacyLog, sink: ListSink) -> None:
        result: Any = PrivacyLogMiddleware(hello, privlog=privlog)(environ(), Server().start_response)
        result.close()
        (rec,) = security(sink, privlog)
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] == 0

    @pytest.mark.parametrize("body", [[b"hello"], [b"a", b"b"], [], [b""]])
    def test_a_response_sent_whole_is_not_incomplete(self, privlog: PrivacyLog, sink: ListSink, body: list[bytes]) -> None:
        def app(env: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
            start_response("200 OK", [])
            yield from body

        for wrapped in (app, lambda env, sr: (sr("200 OK", []), body)[1]):
            Server().run(PrivacyLogMiddleware(wrapped, privlog=privlog))
        recs = security(sink, privlog)
        assert len(recs) == 2
        assert all("privlog.incomplete" not in rec for rec in recs)
        assert all(rec["http.response.status_code"] == 200 for rec in recs)

    def test_raising_after_start_response_before_any_byte_is_a_500(self, privlog: PrivacyLog, sink: ListSink) -> None:
        """No byte went out, so the server still answers 500 itself: a complete 500."""

        def app(env: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
            start_response("200 OK", [])
            raise ValueError("before the body")
            yield b""  # pragma: no cover

        with pytest.raises(ValueError, match="before the body"):
            Server().run(PrivacyLogMiddleware(app, privlog=privlog))
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 500
        assert "privlog.incomplete" not in rec

    def test_exc_info_start_response_passes_through(self, privlog: PrivacyLog, sink: ListSink) -> None:
        def app(env: dict[str, Any], start_response: StartResponse) -> list[bytes]:
            start_response("200 OK", [])
            try:
                raise KeyError("late")
            except KeyError:
                start_response("500 Internal Server Error", [], sys.exc_info())
            return [b"unreachable"]

        with pytest.raises(KeyError):
            Server().run(PrivacyLogMiddleware(app, privlog=privlog))
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 500

    def test_user_id_from_remote_user_is_pseudonymised(self, privlog: PrivacyLog, sink: ListSink) -> None:
        Server().run(PrivacyLogMiddleware(hello, privlog=privlog), environ(REMOTE_USER="alice@example.com"))
        (rec,) = security(sink, privlog)
        assert rec["user.id"]
        assert "alice" not in orjson.dumps(rec).decode()

    def test_custom_user_hook(self, privlog: PrivacyLog, sink: ListSink) -> None:
        app = PrivacyLogMiddleware(hello, privlog=privlog, user_id=lambda env: 42)
        Server().run(app)
        Server().run(PrivacyLogMiddleware(hello, privlog=privlog, user_id=lambda env: 43))
        first, second = security(sink, privlog)
        assert first["user.id"] != second["user.id"]
        assert "42" not in first["user.id"]

    def test_file_wrapper_is_returned_unwrapped(self, privlog: PrivacyLog, sink: ListSink) -> None:
        mw = PrivacyLogMiddleware(send_file([("content-length", " 11")]), privlog=privlog)
        result = mw(with_file_wrapper(FileWrapper), Server().start_response)
        assert type(result) is FileWrapper  # so the server can use sendfile()
        (rec,) = security(sink, privlog)  # recorded as the app returned
        assert rec["http.response.status_code"] == 200
        assert rec["http.response.body.size"] == 11  # the declared Content-Length
        assert b"".join(result) == b"hello world"
        result.close()
        assert len(security(sink, privlog)) == 1

    def test_file_wrapper_without_content_length(self, privlog: PrivacyLog, sink: ListSink) -> None:
        app = PrivacyLogMiddleware(send_file([]), privlog=privlog)
        body = Server().run(app, with_file_wrapper(FileWrapper))
        (rec,) = security(sink, privlog)
        assert body == b"hello world"
        assert rec["http.response.status_code"] == 200
        assert "http.response.body.size" not in rec  # unknown, not a guess

    def test_file_wrapper_function_is_wrapped_and_counted(self, privlog: PrivacyLog, sink: ListSink) -> None:
        def file_wrapper(filelike: io.BytesIO, block_size: int = 8192) -> FileWrapper:
            return FileWrapper(filelike, block_size)  # not a class, and no file: counted as it goes

        app = PrivacyLogMiddleware(send_file([]), privlog=privlog)
        result = app(with_file_wrapper(file_wrapper), Server().start_response)
        assert type(result) is not FileWrapper
        assert b"".join(result) == b"hello world"
        result.close()  # type: ignore[attr-defined]
        (rec,) = security(sink, privlog)
        assert rec["http.response.body.size"] == 11

    def test_a_file_from_a_file_wrapper_function_is_returned_unwrapped(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        """uWSGI's wrapper returns the file itself; only that object gets sendfile()."""
        app = PrivacyLogMiddleware(send_file([("Content-Length", "11")]), privlog=privlog)
        result = app(with_file_wrapper(lambda filelike, block_size=8192: filelike), Server().start_response)
        assert type(result) is io.BytesIO
        assert result.read() == b"hello world"
        (rec,) = security(sink, privlog)
        assert rec["http.response.body.size"] == 11

    def test_websocket_only_policy_passes_http_through(self, sink: ListSink) -> None:
        data = policy_dict()
        data["streams"]["access"]["events"] = ["websocket"]
        pl = PrivacyLog(Policy.from_dict(data, environ=ENV), sinks=[sink])
        result = PrivacyLogMiddleware(hello, privlog=pl)(environ(), Server().start_response)
        assert result == [b"hello ", b"world"]  # the app's own iterable, untouched
        pl.flush()
        assert sink.records == []

    def test_needs_a_policy(self) -> None:
        with pytest.raises(UsageError, match="needs a policy"):
            PrivacyLogMiddleware(hello)

    def test_builds_its_own_privlog_from_a_policy(self, tmp_path: Any) -> None:
        policy = Policy.from_dict(policy_dict(), environ=ENV)
        mw = PrivacyLogMiddleware(hello, policy, directory=tmp_path)
        Server().run(mw)
        mw.privlog.close()
        (line,) = (tmp_path / "access").glob("*.jsonl")
        assert orjson.loads(line.read_bytes().splitlines()[0])["http.response.status_code"] == 201


class TestPrivlogErrorsStayOut:
    def test_user_hook_raising_still_serves_and_records(self, privlog: PrivacyLog, sink: ListSink) -> None:
        def hook(env: dict[str, Any]) -> str:
            raise LookupError("no session store")

        body = Server().run(PrivacyLogMiddleware(hello, privlog=privlog, user_id=hook))
        (rec,) = security(sink, privlog)
        assert body == b"hello world"
        assert "user.id" not in rec

    def test_user_hook_value_whose_str_raises(self, privlog: PrivacyLog, sink: ListSink) -> None:
        def hook(env: dict[str, Any]) -> Any:
            return Unprintable()

        app = PrivacyLogMiddleware(hello, privlog=privlog, user_id=hook)
        body = Server().run(app)
        (rec,) = security(sink, privlog)  # recorded, just without the user
        assert body == b"hello world"
        assert "user.id" not in rec
        assert rec["http.response.status_code"] == 201

    def test_submit_raising_does_not_reach_the_app(
        self, privlog: PrivacyLog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(capture: Any) -> None:
            raise MemoryError

        monkeypatch.setattr(privlog.dispatcher, "submit", broken)
        assert Server().run(PrivacyLogMiddleware(hello, privlog=privlog)) == b"hello world"

    def test_unreadable_environ_is_counted_not_raised(self, privlog: PrivacyLog) -> None:
        body = Server().run(PrivacyLogMiddleware(hello, privlog=privlog), environ(PATH_INFO=None))
        privlog.flush()
        assert body == b"hello world"
        assert privlog.stats().failed == 1


class TestReader:
    WANTED = frozenset({b"user-agent", b"x-forwarded-for", b"content-length", b"x-tenant"})

    def test_reads_only_the_wanted_headers(self) -> None:
        facts = read_wsgi_environ(environ(CONTENT_LENGTH="12", HTTP_X_TENANT="acme"), self.WANTED)
        assert set(facts.headers) == {b"user-agent", b"x-forwarded-for", b"content-length", b"x-tenant"}
        assert facts.headers[b"content-length"] == "12"
        assert b"cookie" not in facts.headers

    def test_protocol_port_query_and_peer(self) -> None:
        facts = read_wsgi_environ(environ(SERVER_PROTOCOL="HTTP/2"), self.WANTED)
        assert (facts.method, facts.scheme, facts.http_version) == ("GET", "https", "2")
        assert facts.query == b"page=2&token=s3cr3t"
        assert (facts.peer, facts.client_port) == ("127.0.0.1", 52100)

    def test_path_is_utf8_recovered_and_mounted(self) -> None:
        raw = "/caf\u00e9".encode().decode("latin-1")  # how a server passes /café
        facts = read_wsgi_environ(
            environ(SCRIPT_NAME="/shop", PATH_INFO=raw, **{"privlog.route": "/<item>"}), frozenset()
        )
        assert facts.path == "/shop/caf\u00e9"
        assert facts.route == "/shop/<item>"

    def test_invalid_utf8_becomes_replacement_characters(self) -> None:
        facts = read_wsgi_environ(environ(PATH_INFO="/\xff\xfe"), frozenset())
        assert facts.path == "/\ufffd\ufffd"
        orjson.dumps(facts.path)  # safe to export

    def test_header_values_are_capped(self) -> None:
        facts = read_wsgi_environ(environ(HTTP_USER_AGENT="x" * 20_000), self.WANTED)
        assert len(facts.headers[b"user-agent"]) == 8192

    def test_missing_values(self) -> None:
        facts = read_wsgi_environ({"REQUEST_METHOD": "GET"}, self.WANTED)
        assert (facts.peer, facts.client_port, facts.http_version, facts.path) == (None, None, None, "")
        assert facts.headers == {}

    def test_user_from_environ_prefers_the_adapter_key(self) -> None:
        assert user_from_environ({"privlog.user_id": "7", "REMOTE_USER": "bob"}) == "7"
        assert user_from_environ({"REMOTE_USER": "bob"}) == "bob"
        assert user_from_environ({}) is None


def test_no_raw_personal_data_in_records(privlog: PrivacyLog, sink: ListSink) -> None:
    app = PrivacyLogMiddleware(hello, privlog=privlog)
    Server().run(app, environ(path="/users/alice@example.com", REMOTE_USER="alice@example.com"))
    privlog.flush()
    blob = orjson.dumps([r.attributes for r in sink.records]).decode()
    for secret in ("198.51.100.77", "alice", "s3cr3t", "abc123secret", "90817263"):
        assert secret not in blob
    assert '"url.query":"page=2' in blob  # analytics keeps the allowed value only
