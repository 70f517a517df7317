"""``privlog audit --chdb PATH``: the audit's checks over the exporter's logs table, in a real ClickHouse (chdb)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from privlog._cli import main
from privlog._core.pipeline import Pipeline
from privlog._notice.explain import load_policy
from privlog._ops.audit_clickhouse import chdb_lines
from privlog.clickhouse import logs_table_ddl

from ..support.requests import capture, scope

chdb_session = pytest.importorskip("chdb.session", reason="chdb (in-process ClickHouse) is not installed")

EXAMPLES = Path(__file__).parents[2] / "examples"
POLICY = str(EXAMPLES / "security-90-days.toml")
SECRET = "s" * 20 + "0123456789abcdefghij"


def exporter_row(ts_ns: int, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A row as the Collector's exporter writes it: every attribute value a string."""
    return {
        "Timestamp": f"{ts_ns // 1_000_000_000}.{ts_ns % 1_000_000_000:09d}",
        "ServiceName": "alinme",
        "LogAttributes": {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in attributes.items()
        },
    }


def insert(path: Path, rows: list[dict[str, Any]]) -> None:
    sess = chdb_session.Session(str(path))
    try:
        sess.query(logs_table_ddl("otel_logs"))
        body = "\n".join(json.dumps(r) for r in rows)
        sess.query(f"INSERT INTO otel_logs FORMAT JSONEachRow\n{body}")
    finally:
        sess.close()


def privlog_rows(**changes: Any) -> list[dict[str, Any]]:
    policy = load_policy(EXAMPLES / "security-90-days.toml", environ={"PRIVLOG_SECRET": SECRET})
    now = time.time_ns()
    records = Pipeline(policy).process(capture(scope())._replace(start_ns=now))
    rows = []
    for rec in records:
        attrs = dict(rec.attributes)
        if attrs["privlog.stream"] == "security":
            attrs.update(changes)
        rows.append(exporter_row(now, attrs))
    return rows


def test_rows_privlog_wrote_are_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
    insert(tmp_path / "ch", privlog_rows())
    assert main(["audit", "--chdb", str(tmp_path / "ch"), "--policy", POLICY]) == 0
    out = capsys.readouterr().out
    assert "2 record(s)" in out
    assert "no findings" in out


def test_planted_rows_are_found_by_row_never_by_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
    rows = privlog_rows()
    rows += privlog_rows(**{"url.path": "/u/jane.doe@example.com", "http.request.header.cookie": "sid=1"})
    rows += privlog_rows(**{"privlog.retention.expires_at": "2020-01-01T00:00:00.000Z"})
    insert(tmp_path / "ch", rows)
    assert main(["audit", "--chdb", str(tmp_path / "ch"), "--policy", POLICY]) == 1
    out = capsys.readouterr().out
    assert "email: 1 × an e-mail address (security url.path)" in out
    assert "unlisted: 1 × an attribute the policy does not list (security http.request.header.cookie)" in out
    assert "expired: 1 ×" in out
    assert "jane.doe@example.com" not in out


def test_one_source_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "store", "--chdb", "x"]) == 2
    assert "more than one source given. Fix: pass one of STORE" in capsys.readouterr().err


class _ChdbOverHttp(http.server.BaseHTTPRequestHandler):
    """ClickHouse's HTTP interface in miniature: a POSTed query runs in chdb, its rows come back."""

    path_to_db = ""

    def do_POST(self) -> None:
        query = self.rfile.read(int(self.headers["Content-Length"])).decode()
        lines = b"".join(line + b"\n" for line in chdb_lines(self.path_to_db, query))
        self.send_response(200)
        self.send_header("Content-Length", str(len(lines)))
        self.end_headers()
        self.wfile.write(lines)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_http_interface_is_read_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
    insert(tmp_path / "ch", privlog_rows(**{"url.path": "/call/+49 171 1234567"}))
    handler = type("Handler", (_ChdbOverHttp,), {"path_to_db": str(tmp_path / "ch")})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert main(["audit", "--clickhouse", url, "--policy", POLICY]) == 1
    finally:
        server.shutdown()
        server.server_close()
    out = capsys.readouterr().out
    assert "phone: 1 × a phone number (security url.path)" in out
    assert "at row 1" in out or "at row 2" in out
