"""A scripted OTLP/HTTP logs receiver on 127.0.0.1: answers with the statuses a test asks for.

Unlike ``otlp_receiver.OtlpReceiver`` it speaks HTTP/1.1 keep-alive, counts connections,
can answer 503/429 with Retry-After, delay, or drop idle connections, for retry tests.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from .otlp_receiver import plain


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # None: an empty ExportLogsServiceResponse
    delay: float = 0.0


@dataclass
class Received:
    """One request as the receiver saw it."""

    at: float
    path: str
    headers: dict[str, str]
    raw: bytes  # the body as sent (maybe gzip)
    body: bytes  # decompressed
    port: int  # the client's port: one per connection


class ScriptedReceiver:
    """Answers each POST with the next scripted :class:`Reply`, then 200 once the script is used up."""

    def __init__(self, port: int = 0, close_after_response: bool = False) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[Received] = []
        self.statuses: list[int] = []  # the status answered to each request, in order
        self.release = threading.Event()  # set at exit so delayed replies end at once
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = gzip.decompress(raw) if self.headers.get("content-encoding") == "gzip" else raw
                receiver.requests.append(
                    Received(
                        time.monotonic(),
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        raw,
                        body,
                        self.client_address[1],
                    )
                )
                reply = receiver.script.popleft() if receiver.script else Reply()
                receiver.statuses.append(reply.status)
                if reply.delay:
                    receiver.release.wait(reply.delay)
                out = ExportLogsServiceResponse().SerializeToString() if reply.body is None else reply.body
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("content-type", "application/x-protobuf")
                    self.send_header("content-length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    self.wfile.flush()
                except OSError:
                    return
                if close_after_response:  # close without saying so: the client finds out on reuse
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/logs"

    def records(self) -> list[dict[str, Any]]:
        """Every log record received, as dicts of attributes (plus ``_body`` and ``_scope``)."""
        out = []
        for r in self.requests:
            req = ExportLogsServiceRequest()
            req.ParseFromString(r.body)
            for rl in req.resource_logs:
                for sl in rl.scope_logs:
                    for lr in sl.log_records:
                        rec = {kv.key: plain(kv.value) for kv in lr.attributes}
                        rec["_body"] = plain(lr.body)
                        rec["_scope"] = sl.scope.name
                        out.append(rec)
        return out

    def __enter__(self) -> ScriptedReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A port nothing listens on right now (for connection-refused tests and restarts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
