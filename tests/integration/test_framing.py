"""The WSGI middleware keeps the framing a server chooses without it: a bare ``[b"hello"]``
gets the same Content-Length, Transfer-Encoding and Connection headers under wsgiref, waitress,
gunicorn and uWSGI, logged or not."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from privlog import Policy
from privlog.wsgi import PrivacyLogMiddleware

from ..support.framing_apps import plain
from ..support.otlp_fake import free_port
from ..support.policies import policy_dict
from ..support.wsgi_server import serve

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
FRAMING = ("content-length", "transfer-encoding", "connection")


def framing(port: int) -> dict[str, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert resp.read() == b"hello"
        return {name: resp.getheader(name) for name in FRAMING}
    finally:
        conn.close()


def logged(directory: Path) -> Callable[..., Any]:
    data = {**policy_dict(), "export": {"sink": "jsonl", "directory": str(directory)}}
    return PrivacyLogMiddleware(plain, Policy.from_dict(data, environ={}))


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def wsgiref(app: Callable[..., Any]) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def waitress(app: Callable[..., Any]) -> Iterator[int]:
    with serve(app) as url:
        yield int(url.rsplit(":", 1)[1])


@contextmanager
def subprocess_server(argv: list[str], directory: Path) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "PRIVLOG_TEST_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    argv = [a.replace("PORT", str(port)) for a in argv]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket_to(port):
                    break
            except OSError:
                assert proc.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)  # uWSGI 2.0 reloads on SIGTERM; both stop on SIGINT
        proc.wait(timeout=20)


@contextmanager
def socket_to(port: int) -> Iterator[None]:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        yield


class TestFraming:
    @pytest.mark.parametrize("server", [wsgiref, waitress], ids=["wsgiref", "waitress"])
    def test_in_process_servers(self, server: Any, tmp_path: Path) -> None:
        with server(plain) as port:
            bare = framing(port)
        with server(logged(tmp_path)) as port:
            with_privlog = framing(port)
        assert bare["content-length"] == "5"
        assert with_privlog == bare

    @pytest.mark.parametrize(
        "argv",
        [
            pytest.param(
                [sys.executable, "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:PORT", "tests.support.framing_apps:APP"],
                id="gunicorn",
            ),
            pytest.param(
                [str(BIN / "uwsgi"), "--http-socket", "127.0.0.1:PORT", "--module", "tests.support.framing_apps:APP", "--pythonpath", str(ROOT)],
                id="uWSGI",
            ),
        ],
    )
    def test_servers_in_their_own_process(self, argv: list[str], tmp_path: Path) -> None:
        with subprocess_server([a.replace("APP", "plain") for a in argv], tmp_path) as port:
            bare = framing(port)
        with subprocess_server([a.replace("APP", "logged") for a in argv], tmp_path) as port:
            with_privlog = framing(port)
        assert with_privlog == bare
