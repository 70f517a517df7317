"""``privlog demo``: a real FastAPI app on uvicorn, real requests full of personal data, and
what privlog wrote for them, side by side."""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import orjson

from .._core.record import header_text
from .._policy.model import Policy
from .._privacylog import PrivacyLog
from ..sinks.jsonl import JsonlStore
from .app import create_app

UA_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
UA_IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@dataclass
class DemoRequest:
    """One request the demo sends, described as a person would see it."""

    label: str
    method: str
    path: str
    client: str  # what the proxy puts in X-Forwarded-For
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None


REQUESTS = [
    DemoRequest(
        "IPv4 visitor, home page",
        "GET",
        "/",
        "203.0.113.195",
        {
            "user-agent": UA_CHROME,
            "accept-language": "de-DE,de;q=0.9,en;q=0.8",
            "referer": "https://news.example.com/article/42?utm_source=mail&email=jane.doe@example.net",
        },
    ),
    DemoRequest(
        "IPv6 visitor with a session cookie",
        "GET",
        "/users/4711",
        "2001:db8:85a3:8d3:1319:8a2e:370:7348",
        {
            "user-agent": UA_IPHONE,
            "cookie": "session=s3cr3t-session-9f8e7d6c5b; theme=dark",
            "accept-language": "fr-CH",
        },
    ),
    DemoRequest(
        "search with an email and a token in the query",
        "GET",
        "/search?q=jane.doe%40example.net&page=2&api_key=sk_live_51HxYzAbCdEf&sort=date",
        "198.51.100.23",
        {"user-agent": UA_FIREFOX},
    ),
    DemoRequest(
        "through a proxy chain (client, then an internal proxy)",
        "GET",
        "/users/1",
        "192.0.2.44, 10.1.2.3",
        {"user-agent": UA_CHROME},
    ),
    DemoRequest(
        "signed-in user (bearer token)",
        "GET",
        "/users/99",
        "203.0.113.7",
        {"user-agent": UA_CHROME, "authorization": "Bearer tok-alice-7f3a9c2e1b"},
    ),
    DemoRequest(
        "an email and a UUID in an unrouted path",
        "GET",
        "/files/jane.doe@example.net/9b2f6f5e-3c1a-4c7e-9d1a-2f8b7c6d5e4f/report.pdf",
        "203.0.113.195",
        {"user-agent": UA_CHROME},
    ),
    DemoRequest(
        "opted out of tracking (Sec-GPC: 1)",
        "GET",
        "/search?q=private&page=1",
        "198.51.100.99",
        {"user-agent": UA_FIREFOX, "sec-gpc": "1"},
    ),
    DemoRequest(
        "garbage in X-Forwarded-For", "GET", "/", "<script>alert(1)</script>", {"user-agent": "curl/8.4.0"}
    ),
    DemoRequest(
        "failed login (wrong password)",
        "POST",
        "/login",
        "203.0.113.66",
        {"user-agent": UA_CHROME},
        {"email": "bob@example.org", "password": "hunter2"},
    ),
    DemoRequest(
        "successful login",
        "POST",
        "/login",
        "203.0.113.66",
        {"user-agent": UA_CHROME},
        {"email": "alice@example.com", "password": "correct horse"},
    ),
    DemoRequest("the app raises", "GET", "/boom", "2001:db8::1", {"user-agent": UA_CHROME}),
]

_SHOWN = (
    "event.name",
    "client.address",
    "privlog.client.address",
    "user.id",
    "session.id",
    "url.path",
    "http.route",
    "url.query",
    "http.response.status_code",
    "user_agent.name",
    "user_agent.version",
    "user_agent.os.name",
    "privlog.language",
    "http.request.header.referer",
    "privlog.websocket.messages_in",
    "privlog.retention.class",
    "privlog.retention.expires_at",
)



def _request_id(i: int) -> str:
    """The demo's request ids: UUIDs, the shape the security policy keeps."""
    return f"00000000-0000-4000-8000-{i:012x}"

def packaged_policy(name: str) -> Path:
    """Path of a policy file shipped with privlog (the examples/ policies)."""
    return Path(str(resources.files("privlog") / "policies" / f"{name}.toml"))


def _serve(app: Any, lifespan: Literal["auto", "on", "off"] = "on") -> tuple[Any, threading.Thread, int]:
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="critical",
        proxy_headers=False,
        ws="websockets-sansio",
        lifespan=lifespan,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, port


def run_demo(directory: Path, out: Any = print) -> int:
    """Run the demo; write the store under ``directory``. Returns a process exit code."""
    import httpx
    from websockets.sync.client import connect

    env = dict(os.environ)
    if not env.get("PRIVLOG_SECRET") and not env.get("PRIVLOG_SECRET_FILE"):
        env["PRIVLOG_SECRET"] = secrets.token_urlsafe(48)
        out("PRIVLOG_SECRET is not set: using a throw-away key for this demo run.\n")
    policy_file = packaged_policy("security-90-days")
    policy = Policy.from_toml(policy_file, environ=env)
    if directory.exists():
        shutil.rmtree(directory)
    privlog = PrivacyLog(
        policy, sinks=[JsonlStore(directory, {s.name: s.retention.days for s in policy.streams})]
    )

    server, thread, port = _serve(create_app(privlog))
    base = f"http://127.0.0.1:{port}"
    out(f"privlog demo: FastAPI on uvicorn at {base}, policy {policy_file.name}")
    out("(the app sits behind a trusted proxy at 127.0.0.1, which sends X-Forwarded-For)\n")
    with httpx.Client(base_url=base, timeout=10) as client:
        for i, req in enumerate(REQUESTS):
            headers = {"x-forwarded-for": req.client, "x-request-id": _request_id(i), **req.headers}
            client.request(req.method, req.path, headers=headers, json=req.json)
    ws_id = _request_id(len(REQUESTS))
    with connect(
        f"ws://127.0.0.1:{port}/ws/chat",
        additional_headers={
            "x-forwarded-for": "2001:db8:cafe::17",
            "x-request-id": ws_id,
            "user-agent": UA_FIREFOX,
            "cookie": "session=ws-session-1a2b3c4d",
        },
    ) as ws:
        for text in ("hi, I am carol@example.com", "my phone is +49 170 1234567"):
            ws.send(text)
            ws.recv()
    server.should_exit = True
    thread.join(timeout=10)
    privlog.flush()

    records = _read_store(directory)
    security = records.get("security", [])
    auth = [r for r in security if str(r.get("event.name", "")).startswith("auth.")]
    by_request = {header_text(r, "x-request-id"): r for r in security if r not in auth}
    sent = [
        *REQUESTS,
        DemoRequest(
            "WebSocket chat session (2 messages each way)",
            "GET",
            "/ws/chat",
            "2001:db8:cafe::17",
            {"user-agent": UA_FIREFOX, "cookie": "session=ws-session-1a2b3c4d"},
        ),
    ]
    for i, req in enumerate(sent):
        out(f"── {req.label}")
        came = {"client": req.client, "request": f"{req.method} {req.path}"}
        came.update({k: v for k, v in req.headers.items() if k != "user-agent"})
        if req.json:
            came["body"] = orjson.dumps(req.json).decode()
        out("   came in: " + "; ".join(f"{k}={v}" for k, v in came.items()))
        rec = by_request.get(_request_id(i))
        out("   logged : " + (_show(rec) if rec else "(nothing)"))
    for rec in auth:
        out(f"── auth event\n   logged : {_show(rec)}")
    analytics = records.get("analytics", [])
    out(
        f"\nanalytics stream (consent-gated, truncated IPs): {len(analytics)} records; "
        f"the Sec-GPC request is not among them. First one:\n   {_show(analytics[0]) if analytics else '(none)'}"
    )
    stats = privlog.stats()
    out(
        f"\ncounters: captured={stats.captured} (requests, sessions, auth events) exported={stats.exported} "
        f"(records, one per stream) dropped={stats.dropped} failed={stats.failed}"
    )
    out("files (owner-only, deleted after their retention):")
    for path in sorted(directory.rglob("*.jsonl")):
        out(f"   {path}  ({oct(path.stat().st_mode & 0o777)})")
    out(f"\nlook at them with: cat {directory}/security/*.jsonl")
    privlog.close()
    return 0


def _show(rec: dict[str, Any]) -> str:
    return "; ".join(f"{k}={rec[k]}" for k in _SHOWN if k in rec)


def _read_store(directory: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(directory.rglob("*.jsonl")):
        out.setdefault(path.parent.name, []).extend(
            orjson.loads(line) for line in path.read_bytes().splitlines() if line
        )
    return out
