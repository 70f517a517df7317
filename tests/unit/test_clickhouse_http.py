"""``--clickhouse URL`` with a user and password: ClickHouse's credential headers carry them, the
URL requested does not, and no message repeats the password."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from privlog._cli import main
from privlog._errors import UsageError
from privlog._ops.clickhouse_http import ClickHouseHTTP

USER = "sweeper"
PASSWORD = "s3cr3t:p@ss wörd"  # a colon, an at sign, a space and a non-ASCII letter
IN_URL = "sweeper:s3cr3t%3Ap%40ss%20w%C3%B6rd"  # the same, percent-encoded as a URL needs
ROW = b'{"Timestamp":"2026-11-29 08:00:00.000000000","LogAttributes":{"privlog.stream":"access"}}\n'


class FakeClickHouse(BaseHTTPRequestHandler):
    """ClickHouse's HTTP interface as far as credentials go: ``X-ClickHouse-User`` and
    ``X-ClickHouse-Key`` (UTF-8) must name its one user, else 403 with exception code 516."""

    seen: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        user = (self.headers.get("X-ClickHouse-User") or "default").encode("latin-1").decode()
        key = (self.headers.get("X-ClickHouse-Key") or "").encode("latin-1").decode()
        self.seen.append({"line": self.requestline, "headers": dict(self.headers), "user": user, "key": key})
        if (user, key) != (USER, PASSWORD):
            answer = f"Code: 516. DB::Exception: {user}: Authentication failed. (AUTHENTICATION_FAILED)".encode()
            self.send_response(403)
            self.send_header("X-ClickHouse-Exception-Code", "516")
        else:
            answer = ROW if body.startswith(b"SELECT") else b""
            self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def clickhouse() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    server = HTTPServer(("127.0.0.1", 0), type("Handler", (FakeClickHouse,), {"seen": seen}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def run(command: str, url: str) -> int:
    if command == "audit":
        return main(["audit", "--clickhouse", url])
    return main(["retention", "sweep", "--clickhouse", url, "--timeout", "5"])


@pytest.fixture(autouse=True)
def _no_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLICKHOUSE_USER", raising=False)
    monkeypatch.delenv("CLICKHOUSE_PASSWORD", raising=False)


@pytest.mark.parametrize("command", ["audit", "sweep"])
class TestCredentialsInTheUrl:
    def test_become_the_credential_headers_and_leave_the_url(
        self, command: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with clickhouse() as (port, seen):
            assert run(command, f"http://{IN_URL}@127.0.0.1:{port}/?database=otel") == 0
        (request,) = seen
        assert (request["user"], request["key"]) == (USER, PASSWORD)
        assert request["line"] == "POST /?database=otel HTTP/1.1"
        assert "Authorization" not in request["headers"]
        out, err = capsys.readouterr()
        assert "s3cr3t" not in out + err
        if command == "audit":
            assert f"http://127.0.0.1:{port}/?database=otel otel_logs: 1 record(s)" in out

    def test_a_wrong_password_exits_5_naming_host_and_port_only(
        self, command: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with clickhouse() as (port, seen):
            assert run(command, f"http://{USER}:wrong-pw-1234@127.0.0.1:{port}/") == 5
        assert seen[0]["key"] == "wrong-pw-1234"
        out, err = capsys.readouterr()
        assert f"ClickHouse {'at ' if command == 'sweep' else ''}127.0.0.1:{port}" in err
        assert "HTTP 403: the user or password was refused" in err
        assert "wrong-pw-1234" not in out + err
        assert USER not in out + err

    def test_without_them_the_user_and_password_come_from_the_environment(
        self, command: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CLICKHOUSE_USER", USER)
        monkeypatch.setenv("CLICKHOUSE_PASSWORD", PASSWORD)
        with clickhouse() as (port, seen):
            assert run(command, f"http://127.0.0.1:{port}/") == 0
            assert run(command, f"http://{USER}:url-wins@127.0.0.1:{port}/") == 5
        assert [(r["user"], r["key"]) for r in seen] == [(USER, PASSWORD), (USER, "url-wins")]


class TestTheUrl:
    def test_a_user_without_a_password_sends_no_key(self) -> None:
        server = ClickHouseHTTP.from_url("https://reader@ch.example:8443/", environ={})
        assert (server.url, server.where) == ("https://ch.example:8443/", "ch.example:8443")
        assert dict(server.headers) == {"X-ClickHouse-User": "reader"}

    def test_the_password_is_not_in_its_repr(self) -> None:
        server = ClickHouseHTTP.from_url(f"http://{IN_URL}@ch.example:8123/", environ={})
        assert "s3cr3t" not in repr(server)

    def test_a_control_character_is_refused_without_being_repeated(self) -> None:
        with pytest.raises(UsageError, match="control character") as caught:
            ClickHouseHTTP.from_url("http://u:pw%0D%0AX-Evil:%201@ch.example:8123/", environ={})
        assert "pw" not in str(caught.value)
