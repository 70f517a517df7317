"""Django responses that do not reach their end: a streamed body whose iterator raises, or whose
client goes away, keeps the status sent and is marked ``privlog.incomplete``, in the sync (WSGI)
and async (ASGI) middleware, with Django's test clients and with real servers."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import AsyncClient, Client, override_settings

from privlog import Policy, PrivacyLog

from ..support.django_site import configure
from ..support.policies import ENV, FULL
from ..support.sinks import ListSink, security
from ..support.wsgi_server import serve


@pytest.fixture(scope="module", autouse=True)
def django_site(tmp_path_factory: pytest.TempPathFactory) -> None:
    configure(tmp_path_factory.mktemp("django"))


@pytest.fixture
def privlog(sink: ListSink) -> Iterator[PrivacyLog]:
    pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink])
    with override_settings(PRIVLOG=pl):
        yield pl
    pl.close()


def wait_for(sink: ListSink, pl: PrivacyLog, n: int = 1, timeout: float = 15.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while len(security(sink, pl)) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return security(sink, pl)


def hang_up(port: int, path: str, after: int = 4096) -> bytes:
    """GET over a raw socket, then close it with data unread (a reset) after ``after`` bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = b""
        while len(got) < after:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


class TestSync:
    def test_a_stream_that_raises_keeps_its_status_and_is_incomplete(self, privlog: PrivacyLog, sink: ListSink) -> None:
        response = Client().get("/stream-boom/")
        with pytest.raises(RuntimeError, match="the stream failed"):
            b"".join(response.streaming_content)
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 201
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] == len(b"first chunk")

    def test_a_stream_closed_before_its_end_is_incomplete(self, privlog: PrivacyLog, sink: ListSink) -> None:
        response = Client().get("/stream/")
        assert next(iter(response.streaming_content)) == b"a" * 10
        response.close()  # what the server does when the client has gone
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 200
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] == 10

    def test_a_stream_read_to_its_end_is_not_marked(self, privlog: PrivacyLog, sink: ListSink) -> None:
        response = Client().get("/stream/")
        assert b"".join(response.streaming_content) == b"a" * 10 + b"b" * 5
        (rec,) = security(sink, privlog)
        assert "privlog.incomplete" not in rec


class TestAsync:
    def test_a_stream_that_raises_keeps_its_status_and_is_incomplete(self, privlog: PrivacyLog, sink: ListSink) -> None:
        async def run() -> None:
            response = await AsyncClient().get("/astream-boom/")
            with pytest.raises(RuntimeError, match="the stream failed"):
                [chunk async for chunk in response.streaming_content]

        asyncio.run(run())
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 201
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] == len(b"first chunk")

    def test_a_stream_closed_before_its_end_is_incomplete(self, privlog: PrivacyLog, sink: ListSink) -> None:
        async def run() -> bytes:
            response = await AsyncClient().get("/astream/")
            first: bytes = await anext(aiter(response.streaming_content))
            response.close()
            return first

        assert asyncio.run(run()) == b"a" * 10
        (rec,) = security(sink, privlog)
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] == 10

    def test_a_stream_read_to_its_end_is_not_marked(self, privlog: PrivacyLog, sink: ListSink) -> None:
        async def run() -> bytes:
            response = await AsyncClient().get("/astream/")
            return b"".join([chunk async for chunk in response.streaming_content])

        assert asyncio.run(run()) == b"a" * 10 + b"b" * 5
        (rec,) = security(sink, privlog)
        assert "privlog.incomplete" not in rec


@pytest.mark.integration
class TestRealServers:
    def test_wsgi_client_gone_mid_stream(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with serve(WSGIHandler()) as base:
            got = hang_up(int(base.rsplit(":", 1)[1]), "/endless/")
            (rec,) = wait_for(sink, privlog)
        assert got.startswith(b"HTTP/1.1 200")
        assert rec["http.response.status_code"] == 200
        assert rec["privlog.incomplete"] is True
        assert 0 < rec["http.response.body.size"] < 200 * 16384

    def test_wsgi_stream_raising(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with serve(WSGIHandler()) as base:
            got = hang_up(int(base.rsplit(":", 1)[1]), "/stream-boom/", after=1 << 20)
            (rec,) = wait_for(sink, privlog)
        assert got.startswith(b"HTTP/1.1 201")
        assert rec["http.response.status_code"] == 201
        assert rec["privlog.incomplete"] is True

    # Django's ASGI handler leaves the request body's SpooledTemporaryFile open when a stream
    # raises; collected here, so its warning is this test's and not the next one's.
    @pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
    @pytest.mark.parametrize(("path", "status"), [("/aendless/", 200), ("/astream-boom/", 201)])
    def test_asgi(self, privlog: PrivacyLog, sink: ListSink, path: str, status: int) -> None:
        from privlog._demo import _serve

        server, thread, port = _serve(ASGIHandler(), lifespan="off")
        try:
            got = hang_up(port, path, after=4096 if "endless" in path else 1 << 20)
            (rec,) = wait_for(sink, privlog)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            gc.collect()
        assert got.startswith(f"HTTP/1.1 {status}".encode())
        assert rec["http.response.status_code"] == status
        assert rec["privlog.incomplete"] is True
        assert rec["http.response.body.size"] < 200 * 16384
