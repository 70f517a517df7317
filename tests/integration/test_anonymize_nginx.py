"""A real nginx writes its access log to FIFOs read by ``privlog anonymize``.

nginx (its own prefix, pid and temp paths in a tmp dir, on 127.0.0.1) serves requests full of
personal data: in the address (through X-Forwarded-For, resolved by nginx's realip module), the
path, the query, the referrer, the user agent, the Basic-auth user name, a cookie. One access
log goes through ``--output same`` to a file, which must hold none of it; another through
``--output json``, whose records must equal what the ASGI middleware makes in-process for the
same requests.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson
import pytest

from privlog import Policy, PrivacyLog
from privlog._core.record import client_address
from privlog.asgi import PrivacyLogMiddleware

from ..support.policies import ENV, SECRET
from ..support.sinks import ListSink

pytestmark = pytest.mark.integration

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
BODY = b"ok\n"
POLICY = """
service = "nginx-anonymize"
[proxies]
trusted = ["127.0.0.1"]
[retention.ops]
days = 7
purpose = "operations"
legal_basis = "legitimate interest"
[streams.access]
retention = "ops"
[streams.access.fields]
timestamp = "keep"
method = "keep"
http_version = "keep"
path = "template"
query = { action = "allowlist", allow = ["page", "q"], values = { page = "int" } }
status = "keep"
response_bytes = "keep"
referrer = "origin"
user_agent = "generalise"
client_ip = "hash"
user_id = "pseudonymise"
"""
BASIC = "Basic " + base64.b64encode(b"jane.doe:hunter2").decode()
#: (method, target, client address, headers)
REQUESTS: list[tuple[str, str, str, dict[str, str]]] = [
    (
        "GET",
        "/users/4711/orders?page=2&email=jane.doe%40example.com&q=size",
        "203.0.113.77",
        {
            "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Referer": "https://mail.example.net/inbox/jane?session=s3ss10n-t0ken",
            "Cookie": "sid=s3ss10n-t0ken",
        },
    ),
    (
        "GET",
        "/files/jane.doe@example.com/9f0c7b1e-3d2a-4c5b-8e6f-112233445566.pdf",
        "2001:db8:abcd:12::77",
        {
            "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Authorization": BASIC,
        },
    ),
    (
        "POST",
        "/api/reset?token=abcdef0123456789abcdef&page=1",
        "198.51.100.23",
        {"User-Agent": "curl/8.5.0 (jane-laptop; 192.168.1.55)", "Referer": "http://192.168.1.55:8080/admin"},
    ),
]
PLANTED = (
    "203.0.113.77",
    "2001:db8:abcd:12::77",
    "198.51.100.23",
    "4711",
    "jane",
    "example.com",
    "s3ss10n",
    "9f0c7b1e",
    "abcdef0123456789",
    "hunter2",
    "mail.example.net/inbox",
    "Win64",
    "192.168.1.55:8080/admin",
)
LOG_FORMAT = (
    '\'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"\''
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _nginx_conf(root: Path, port: int) -> str:
    temps = "\n".join(
        f"    {kind}_temp_path {root}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
{temps}
    log_format main {LOG_FORMAT};
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    server {{
        listen 127.0.0.1:{port};
        access_log {root}/same.fifo main;
        access_log {root}/json.fifo main;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def _anonymize(policy: Path, fifo: Path, output: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-c", "import sys; from privlog._cli import main; sys.exit(main())"),
            *("anonymize", "--policy", str(policy), "--output", output, str(fifo), "-o", str(out)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **ENV},
    )


class Logs(NamedTuple):
    same: Path  # --output same
    records: Path  # --output json
    bodies: list[bytes]  # what nginx answered
    policy: Path


@pytest.fixture
def nginx_logs(tmp_path: Path) -> Logs:
    """Start the readers, then nginx; send the requests; stop nginx: the readers see EOF."""
    if NGINX is None:
        pytest.skip("nginx is not installed (CI installs the Debian package nginx-light from .ci/run)")
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    for fifo in ("same.fifo", "json.fifo"):
        os.mkfifo(tmp_path / fifo)
    same_out, json_out = tmp_path / "access.log", tmp_path / "records.jsonl"
    readers = [
        _anonymize(policy, tmp_path / "same.fifo", "same", same_out),
        _anonymize(policy, tmp_path / "json.fifo", "json", json_out),
    ]
    port = _free_port()
    (tmp_path / "nginx.conf").write_text(_nginx_conf(tmp_path, port))
    server = subprocess.Popen(
        [
            NGINX,
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-e",
            str(tmp_path / "error.log"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            bodies = _send(port, server)
        finally:
            server.send_signal(signal.SIGQUIT)  # graceful: closes the logs, so the readers see EOF
            _, server_err = server.communicate(timeout=30)
        assert server.returncode == 0, server_err
        for reader in readers:
            _, reader_err = reader.communicate(timeout=30)
            assert reader.returncode == 0, reader_err
            assert f"{len(REQUESTS)} lines: {len(REQUESTS)} anonymised".encode() in reader_err
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
                reader.communicate()
    return Logs(same_out, json_out, bodies, policy)


def _send(port: int, server: subprocess.Popen[bytes]) -> list[bytes]:
    bodies = []
    for method, target, client, headers in REQUESTS:
        for _ in range(100):  # nginx is listening within a moment
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request(
                    method,
                    target,
                    body=b"x=1" if method == "POST" else None,
                    headers={**headers, "X-Forwarded-For": client},
                )
                break
            except ConnectionRefusedError:
                assert server.poll() is None, "nginx exited"
                time.sleep(0.1)
        response = conn.getresponse()
        bodies.append(response.read())
        assert response.status == 200
        conn.close()
    return bodies


def _middleware_records(policy: Path) -> list[dict[str, Any]]:
    """The same requests through the ASGI middleware, in-process, from 127.0.0.1 as nginx saw them."""
    sink = ListSink()
    privlog = PrivacyLog(Policy.from_toml(policy, environ=ENV), sinks=[sink])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"3")]})
        await send({"type": "http.response.body", "body": BODY})

    def user_id(scope: Any) -> str | None:  # an app with HTTP Basic auth: the user is its name
        for name, value in scope["headers"]:
            if name == b"authorization" and value.startswith(b"Basic "):
                return base64.b64decode(value[6:]).split(b":", 1)[0].decode()
        return None

    middleware = PrivacyLogMiddleware(app, privlog=privlog, user_id=user_id)

    async def call(method: str, target: str, client: str, headers: dict[str, str]) -> None:
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (k.lower().encode(), v.encode()) for k, v in {**headers, "X-Forwarded-For": client}.items()
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8080),
        }
        body = b"x=1" if method == "POST" else b""

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            return None

        await middleware(scope, receive, send)

    async def main() -> None:
        for request in REQUESTS:
            await call(*request)

    asyncio.run(main())
    privlog.flush()
    privlog.close()
    return [dict(r.attributes) for r in sink.records]


class TestNginxThroughAnonymize:
    def test_the_log_on_disk_holds_none_of_the_planted_data(self, nginx_logs: Logs) -> None:
        text = nginx_logs.same.read_text(encoding="latin-1")
        assert text.count("\n") == len(REQUESTS)
        for planted in (*PLANTED, SECRET):
            assert planted not in text, planted
        first = text.splitlines()[0]
        assert (
            '"GET /users/{id}/orders?page=2&q HTTP/1.1" 200 3 "https://mail.example.net" "Chrome 131 / Windows / desktop"'
            in first
        )

    def test_the_records_equal_the_middlewares_for_the_same_requests(self, nginx_logs: Logs) -> None:
        assert nginx_logs.bodies == [BODY] * len(REQUESTS)
        from_log = [orjson.loads(line) for line in nginx_logs.records.read_bytes().splitlines()]
        from_middleware = _middleware_records(nginx_logs.policy)
        assert len(from_log) == len(from_middleware) == len(REQUESTS)
        for logged, direct in zip(from_log, from_middleware):
            # nginx stamps the second it wrote the line, the middleware the nanosecond the
            # request began: the times differ, everything else must not
            for rec in (logged, direct):
                rec.pop("timestamp", None)
                rec.pop("privlog.retention.expires_at")
            assert logged == direct
        assert {client_address(r) for r in from_log}.isdisjoint({r[2] for r in REQUESTS})
        assert "user.id" in from_log[1]
        text = nginx_logs.records.read_text()
        for planted in (*PLANTED, SECRET):
            assert planted not in text, planted
