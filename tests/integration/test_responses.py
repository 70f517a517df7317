"""What the middleware records for responses that do not end normally, through real servers:
an error after the response started, a client gone mid-stream, a file sent by the server."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, StreamingResponse
from starlette.routing import Route

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from privlog._demo import _serve
from privlog.wsgi import PrivacyLogMiddleware as WsgiMiddleware

from ..support import stream_apps
from ..support.policies import policy_dict
from ..support.sinks import ListSink
from ..support.wsgi_server import serve
from .test_framing import subprocess_server

FIELDS = {"path": "template", "status": "keep", "response_bytes": "keep"}
APP = "tests.support.stream_apps:logged"
ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def stored(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for p in directory.glob("*/*.jsonl") for line in p.read_bytes().splitlines()]


def make_privlog(sink: ListSink) -> PrivacyLog:
    data = {**policy_dict(**FIELDS), "export": {"flush_interval": 60}}
    return PrivacyLog(Policy.from_dict(data, environ={}), sinks=[sink])


def records(pl: PrivacyLog, sink: ListSink, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        pl.flush()
        out = [r.attributes for r in sink.records]
        if len(out) >= n or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def raw_get(port: int, path: str, read: int | None = None) -> bytes:
    """GET over a raw socket; with ``read``, hang up after that many bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = b""
        while read is None or len(got) < read:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def starlette_app() -> Starlette:
    async def boom(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first chunk"
            raise RuntimeError("the app failed mid-stream")

        return StreamingResponse(body(), status_code=201)

    async def endless(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(200):  # bounded: 10 s at most
                yield b"x" * 1024
                await asyncio.sleep(0.05)

        return StreamingResponse(body())

    return Starlette(routes=[Route("/boom", boom), Route("/endless", endless)])


@pytest.fixture
def uvicorn_app() -> Iterator[tuple[int, PrivacyLog, ListSink]]:
    sink = ListSink()
    pl = make_privlog(sink)
    app = starlette_app()
    app.add_middleware(PrivacyLogMiddleware, privlog=pl)
    server, thread, port = _serve(app, lifespan="off")
    try:
        yield port, pl, sink
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        pl.close()


class TestAsgi:
    def test_an_error_after_the_response_started_keeps_the_status_sent(
        self, uvicorn_app: tuple[int, PrivacyLog, ListSink]
    ) -> None:
        port, pl, sink = uvicorn_app
        got = raw_get(port, "/boom")
        assert got.startswith(b"HTTP/1.1 201")
        (rec,) = records(pl, sink, 1)
        assert rec["http.response.status_code"] == 201
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] == len(b"first chunk")

    def test_a_client_gone_mid_stream_is_recorded_as_incomplete(
        self, uvicorn_app: tuple[int, PrivacyLog, ListSink]
    ) -> None:
        port, pl, sink = uvicorn_app
        raw_get(port, "/endless", read=4096)  # then hang up
        (rec,) = records(pl, sink, 1)
        assert rec["http.response.status_code"] == 200
        assert rec["privlog.incomplete"] is True
        assert 0 < rec["http.response.body.size"] < 200 * 1024

    def test_a_finished_response_is_not_marked(self, uvicorn_app: tuple[int, PrivacyLog, ListSink]) -> None:
        port, pl, sink = uvicorn_app
        raw_get(port, "/nowhere", read=10)
        (rec,) = records(pl, sink, 1)
        assert rec["http.response.status_code"] == 404
        assert "privlog.incomplete" not in rec

    def test_a_file_sent_with_pathsend_is_recorded_with_its_size(self, tmp_path: Path) -> None:
        report = tmp_path / "report.bin"
        report.write_bytes(b"r" * 12345)
        sink = ListSink()
        pl = make_privlog(sink)

        async def download(request: Request) -> FileResponse:
            return FileResponse(report)

        app = Starlette(routes=[Route("/report", download)])
        app.add_middleware(PrivacyLogMiddleware, privlog=pl)
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {  # a server that supports the pathsend extension (Granian, Hypercorn)
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/report",
            "raw_path": b"/report",
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "extensions": {"http.response.pathsend": {}},
        }
        asyncio.run(app(scope, receive, send))
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
        (rec,) = records(pl, sink, 1)
        pl.close()
        assert rec["http.response.body.size"] == 12345
        assert "privlog.incomplete" not in rec


class TestWsgi:
    def test_an_error_after_bytes_went_out_keeps_the_status_sent(self) -> None:
        sink = ListSink()
        pl = make_privlog(sink)

        def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
            start_response("201 Created", [("Content-Type", "text/plain")])
            yield b"first chunk"
            raise RuntimeError("the app failed mid-stream")

        with serve(WsgiMiddleware(app, privlog=pl)) as url:
            port = int(url.rsplit(":", 1)[1])
            got = raw_get(port, "/")
        assert got.startswith(b"HTTP/1.1 201")
        (rec,) = records(pl, sink, 1)
        pl.close()
        assert rec["http.response.status_code"] == 201
        assert rec["privlog.incomplete"] is True

    def test_a_client_gone_mid_stream_is_incomplete_under_waitress(self) -> None:
        sink = ListSink()
        pl = make_privlog(sink)
        with serve(WsgiMiddleware(stream_apps.endless, privlog=pl)) as url:
            got = raw_get(int(url.rsplit(":", 1)[1]), "/", read=4096)  # then hang up
            (rec,) = records(pl, sink, 1, timeout=15)
        pl.close()
        assert got.startswith(b"HTTP/1.1 201")
        assert rec["http.response.status_code"] == 201
        assert rec["privlog.incomplete"] is True
        assert 0 < rec["http.response.body.size"] < 200 * stream_apps.CHUNK

    @pytest.mark.parametrize(
        "argv",
        [
            pytest.param([sys.executable, "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:PORT", APP], id="gunicorn"),
            pytest.param(
                [str(BIN / "uwsgi"), "--http-socket", "127.0.0.1:PORT", "--module", APP, "--pythonpath", str(ROOT)],
                id="uWSGI",
            ),
        ],
    )
    def test_a_client_gone_mid_stream_is_incomplete(self, argv: list[str], tmp_path: Path) -> None:
        with subprocess_server(argv, tmp_path) as port:
            got = raw_get(port, "/", read=4096)
            deadline = time.monotonic() + 15
            while not stored(tmp_path) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert got.startswith(b"HTTP/1.1 201")
        (rec,) = stored(tmp_path)
        assert rec["http.response.status_code"] == 201
        assert rec["privlog.incomplete"] is True
        assert 0 < rec["http.response.body.size"] < 200 * stream_apps.CHUNK
