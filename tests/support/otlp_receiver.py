"""A minimal OTLP/HTTP logs receiver on 127.0.0.1 for tests: decodes what exporters send."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":  # http.request.header.*: a list of strings
        return [plain(v) for v in value.array_value.values]
    return None if kind is None else getattr(value, kind)


class OtlpReceiver:
    """Collects decoded log records (as dicts) and the raw request bodies it received."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.raw.append(body)
                req = ExportLogsServiceRequest()
                req.ParseFromString(body)
                for rl in req.resource_logs:
                    receiver.resources.append({kv.key: plain(kv.value) for kv in rl.resource.attributes})
                    for sl in rl.scope_logs:
                        for lr in sl.log_records:
                            rec = {kv.key: plain(kv.value) for kv in lr.attributes}
                            rec["_body"] = plain(lr.body)
                            rec["_event_name"] = lr.event_name
                            rec["_severity"] = (lr.severity_number, lr.severity_text)
                            rec["_time_unix_nano"] = lr.time_unix_nano
                            rec["_scope"] = sl.scope.name
                            receiver.records.append(rec)
                out = ExportLogsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
