"""Requests per second through a real uvicorn on 127.0.0.1: bare app against privlog, one run.

The server runs in its own process (one uvicorn worker) and privlog's worker thread in it, so
the transforms and the JSONL writes compete with request handling for the GIL, as in
production at full load. Every request differs (address, session, query, path), so no cache
flatters privlog. Each policy runs on the pure-Python worker and on the compiled one
(privlog-native; skipped when it is not installed). OpenTelemetry's ASGI instrumentation
(tracing, no exporter) is the peer. The client keeps 8 connections alive and sends requests
on each in turn; it shares the machine's cores with the server, so read the ratio, not the
absolute rate. ``test_wrk_loopback.py`` measures the same with wrk, interleaved.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import distinct
from privlog._core.native import available
from test_wrk_loopback import VARIANTS

CONNECTIONS = 8
REQUESTS_PER_ROUND = 2000
ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.benchmark(group="loopback")


def request(i: int) -> bytes:
    path, query, cookie, client, request_id = distinct(i)
    return (
        f"GET {path}?{query} HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n"
        "Accept-Language: de-DE,de;q=0.9\r\n"
        f"Cookie: {cookie}\r\n"
        f"X-Forwarded-For: {client}\r\n"
        f"X-Request-Id: {request_id}\r\n\r\n"
    ).encode()


async def _connection(port: int, start: int, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(start, start + count):
            writer.write(request(i))
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
    finally:
        writer.close()


def send(port: int, total: int = REQUESTS_PER_ROUND) -> None:
    """``total`` requests, spread over the connections, all answered."""

    async def run() -> None:
        per = total // CONNECTIONS
        await asyncio.gather(*(_connection(port, c * per, per) for c in range(CONNECTIONS)))

    asyncio.run(run())


def _serve(app: str, port: int, directory: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"benchmarks.loopback_app:{app}",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "PRIVLOG_BENCH_DIR": str(directory)},
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            send(port, CONNECTIONS)
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"uvicorn did not start {app}") from None
            time.sleep(0.1)


@pytest.fixture(params=VARIANTS)
def served(request: Any, tmp_path: Path) -> Iterator[tuple[str, int]]:
    if request.param.endswith("_extension") and not available():
        pytest.skip("privlog-native is not installed (make native)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = _serve(request.param, port, tmp_path)
    try:
        yield request.param, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_uvicorn_loopback(benchmark: Any, served: tuple[str, int]) -> None:
    _, port = served
    send(port)  # warm up
    benchmark.extra_info["requests_per_round"] = REQUESTS_PER_ROUND
    benchmark.pedantic(send, args=(port,), rounds=5, iterations=1, warmup_rounds=1)
