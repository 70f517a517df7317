"""Under a real uWSGI (preforking, two workers): records from every worker, sendfile() kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from ..support.otlp_fake import free_port
from ..support.policies import SECRET

UWSGI = Path(sys.executable).parent / "uwsgi"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uWSGI does not run on Windows")


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return r.status, dict(r.headers), r.read()


class Server:
    def __init__(self, directory: Path, stream_dir: Path) -> None:
        self.directory = directory
        self.stream_dir = stream_dir
        self.url = f"http://127.0.0.1:{free_port()}"

    def records(self) -> list[dict[str, Any]]:
        return [
            orjson.loads(line)
            for path in sorted(self.stream_dir.glob("*.jsonl"))
            for line in path.read_bytes().splitlines()
        ]

    def wait_for_records(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.records()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.records()


@contextmanager
def uwsgi(module: str, directory: Path, stream_dir: Path, ready: str, processes: int = 2) -> Iterator[Server]:
    """uWSGI in its default preforking mode: the app is loaded once, then two workers fork."""
    srv = Server(directory, stream_dir)
    log = (directory / "uwsgi.log").open("wb")
    proc = subprocess.Popen(
        [
            str(UWSGI),
            "--http-socket",
            srv.url.removeprefix("http://"),
            "--module",
            module,
            "--master",
            "--processes",
            str(processes),
            "--die-on-term",
            "--disable-logging",
        ],
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PRIVLOG_TEST_DIR": str(directory), "PRIVLOG_SECRET": SECRET},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(srv.url + ready, **{"X-Forwarded-For": "198.51.100.200"})
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "uWSGI did not start:\n" + (directory / "uwsgi.log").read_text(errors="replace")
                    )
                time.sleep(0.1)
        yield srv
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "report.bin").write_bytes(os.urandom(256 * 1024))
    with uwsgi("tests.support.uwsgi_app:app", tmp_path, tmp_path / "access", "/users/1") as srv:
        yield srv


class TestUwsgi:
    def test_every_forked_worker_writes_its_records(self, server: Server) -> None:
        pids = set()
        for i in range(40):
            status, _, body = get(f"{server.url}/users/{9000 + i}", **{"X-Forwarded-For": f"198.51.100.{i}"})
            assert status == 200
            pids.add(orjson.loads(body)["pid"])
        records = server.wait_for_records(41)  # and the start-up probe
        assert len(records) == 41
        users = [r for r in records if r.get("http.route") == "/users/<int:user_id>"]
        assert {r["client.address"] for r in users} == {"198.51.100.0"}
        assert {r["user.id"] for r in users} != {"alice@example.com"}
        assert len({r["user.id"] for r in users}) == 1
        blob = b"".join(p.read_bytes() for p in (server.directory / "access").glob("*.jsonl"))
        for i in range(1, 40):
            assert f'"198.51.100.{i}"'.encode() not in blob
        assert b"alice" not in blob
        if len(pids) < 2:
            pytest.skip("one worker took every request; the fork path was not exercised")

    def test_a_sent_file_keeps_sendfile_and_is_recorded(self, server: Server) -> None:
        report = (server.directory / "report.bin").read_bytes()
        status, headers, body = get(server.url + "/report")
        assert (status, body) == (200, report)
        assert int(headers["Content-Length"]) == len(report)
        status, _, body = get(server.url + "/probe")
        assert body == report  # uWSGI sent the descriptor: iterating would have given the marker
        records = server.wait_for_records(3)
        sent = {r["url.path"]: r for r in records if r["url.path"] in ("/report", "/probe")}
        assert sent["/report"]["http.response.status_code"] == 200
        assert sent["/report"]["http.response.body.size"] == len(report)  # its Content-Length
        assert "http.response.body.size" not in sent["/probe"]  # no Content-Length: unknown

    def test_django_records_each_request_of_each_worker_whole(self, tmp_path: Path) -> None:
        """Django's request.META is uWSGI's environ, which uWSGI empties for the next request."""
        with uwsgi("tests.support.uwsgi_django:application", tmp_path, tmp_path / "logs" / "access", "/hello") as srv:
            for i in range(20):
                status, _, _ = get(f"{srv.url}/users/{9000 + i}/")
                assert status == 200
            records = srv.wait_for_records(21)
        users = [r for r in records if r.get("http.route") == "/users/<int:pk>/"]
        assert len(users) == 20
        assert {(r["http.response.status_code"], r["client.address"]) for r in users} == {(200, "127.0.0.0")}
        assert {r["user_agent.name"] for r in users} == {"bot"}  # urllib's agent, generalised

    def test_a_flask_auth_event_keeps_its_own_request_when_uwsgi_reuses_the_environ(
        self, tmp_path: Path
    ) -> None:
        """One worker: the login's environ is emptied and refilled by the next request, which
        is still running (slowly) when the worker reads the event, a second later."""
        with uwsgi("tests.support.uwsgi_auth_app:app", tmp_path, tmp_path / "access", "/ready", processes=1) as srv:
            request = urllib.request.Request(
                srv.url + "/login",
                data=b"",
                method="POST",
                headers={"X-Forwarded-For": "198.51.100.1", "User-Agent": "alice-agent"},
            )
            with pytest.raises(urllib.error.HTTPError, match="401"):
                urllib.request.urlopen(request, timeout=10)
            get(srv.url + "/other/1", **{"X-Forwarded-For": "203.0.113.2", "User-Agent": "bob-agent"})
            records = srv.wait_for_records(4)
        (event,) = [r for r in records if r.get("event.name") == "auth.login_failure"]
        whose = (event.get("http.route"), event.get("client.address"), event.get("user_agent.original"))
        assert whose == ("/login", "198.51.100.0", "alice-agent")
