"""The leak suite: personal data planted in every part of a request never leaves privlog.

Each request carries distinctive personal data in the client address, the proxy headers, the
path, the query, cookies, Authorization, Referer, User-Agent, Accept-Language, custom headers,
the user id and a WebSocket session. It goes through FastAPI, Flask and Django with each shipped
example policy, and every byte privlog exports is searched: the JSONL store's files, the bodies
the fast OTLP sink posts to a local receiver, the records the OpenTelemetry SDK sink emits, and
the aggregate metrics. The planted values are long or odd enough never to occur by chance; the
last tests show the search finds them when a policy does keep them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, WebSocket
from flask import Flask
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware, log_auth_event
from privlog.flask import PrivacyLogExtension
from privlog.sinks.jsonl import JsonlStore
from privlog.sinks.metrics import AggregateMetricsSink
from privlog.sinks.otel import OpenTelemetrySink
from privlog.sinks.otlp import OtlpHttpSink

from ..support.django_site import configure
from ..support.otlp_receiver import OtlpReceiver
from ..support.policies import ENV, policy_dict

POLICIES = sorted((Path(__file__).parents[2] / "src" / "privlog" / "policies").glob("*.toml"))

# --- what is planted -------------------------------------------------------------------------------

PEER = "203.0.113.219"  # the client as the server sees it (no proxy in front)
PROXIED = "198.51.100.201"  # the client behind the trusted proxy at 127.0.0.1
SPOOFED = "192.0.2.203"  # what a client writes at the left of X-Forwarded-For
REAL_IP = "192.0.2.204"
V6 = "2001:db8:feed:beef:cafe:f00d:1234:5678"
USER = "jane.doe.leak@example.org"
NUMBER = "4917055512345"
PATH_TOKEN = "aB3dE5gH7jK9mN1"
UAS = ("Jane Doe Leak/4711 CFNetwork/1494.0.7 Darwin/23.4.0", f"curl/{NUMBER}")
QUERY = (
    f"page={NUMBER}&sort=jane.doe.leak%40example.org&q=JaneDoeLeakSearch&token=sk_live_JaneDoeLeakKey"
    "&email=jane.doe.leak%40example.org&name=J%C3%A4neDoeLeak"
)
HEADERS = {
    "X-Forwarded-For": f"{SPOOFED}, {PROXIED}",
    "Forwarded": f'for="[{V6}]";proto=https',
    "X-Real-IP": REAL_IP,
    "True-Client-IP": REAL_IP,
    "Cookie": "session=JaneDoeLeakSession0042; other=JaneDoeLeakCookie",
    "Authorization": "Bearer JaneDoeLeakBearer.eyJzdWIiOiJqYW5lIn0",
    "Referer": f"https://mail.example.org/inbox/{USER}?t=JaneDoeLeakRef",
    "Accept-Language": "janedoeleak-DE,de;q=0.9",
    "X-Request-Id": f"req-{USER}",
    "X-Tenant": "JaneDoeLeakTenant",
    "X-Session-Id": "JaneDoeLeakSid",
    "X-Api-Key": "JaneDoeLeakApiKey",
}
#: The planted values as they could appear in exported bytes, searched in lower case.
NEEDLES = (
    "janedoeleak",
    "jane.doe.leak",
    "jane doe leak",
    "j\u00e4nedoeleak",
    "j%c3%a4nedoeleak",
    NUMBER,
    PATH_TOKEN.lower(),
    "sk_live",
    "eyjzdwiiojqyw5lin0",
    PEER,
    PROXIED,
    SPOOFED,
    REAL_IP,
    "feed:beef",
    "f00d:1234:5678",
    "2001:0db8:feed:beef",
)

#: Paths of requests: routed (the template is logged) and unrouted (the path is scrubbed).
ROUTED = f"/users/{NUMBER}"
UNROUTED = f"/nope/{USER}/{PATH_TOKEN}/{NUMBER}/{PEER}/[{V6}]"


def headers(i: int) -> dict[str, str]:
    """The planted headers with one of the user agents and referrers."""
    referer = HEADERS["Referer"] if i % 2 == 0 else f"http://[{V6}]:8080/JaneDoeLeakPage"
    return {**HEADERS, "User-Agent": UAS[i % 2], "Referer": referer}


# --- where privlog exports -------------------------------------------------------------------------


@dataclass
class Exports:
    """Every sink a deployment can have, each writing somewhere the test can read back."""

    privlog: PrivacyLog
    jsonl: Path
    receiver: OtlpReceiver
    sdk: InMemoryLogRecordExporter
    metrics: InMemoryMetricReader

    def channels(self) -> dict[str, bytes]:
        """Every exported byte, by channel."""
        self.privlog.flush()
        data = self.metrics.get_metrics_data()
        return {
            "jsonl": b"".join(p.read_bytes() for p in sorted(self.jsonl.rglob("*")) if p.is_file()),
            "otlp": b"".join(self.receiver.raw),
            "sdk": "\n".join(d.to_json() for d in self.sdk.get_finished_logs()).encode(),
            "metrics": data.to_json().encode() if data is not None else b"",
        }

    def hits(self) -> dict[str, list[str]]:
        """The planted values found, by channel (asserted non-empty channels: nothing was lost)."""
        found = {}
        for name, data in self.channels().items():
            assert data, f"nothing was exported to {name}"
            text = data.lower()
            found[name] = [n for n in NEEDLES if n.encode() in text]
        return found


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


def deploy(policy: Policy, tmp_path: Path, receiver: OtlpReceiver) -> Exports:
    days = {s.name: s.retention.days for s in policy.streams}
    sdk = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(sdk))
    reader = InMemoryMetricReader()
    meters = MeterProvider([reader])
    sinks = [
        JsonlStore(tmp_path / "jsonl", days),
        OtlpHttpSink(f"{receiver.endpoint}/v1/logs", environ={}, service_name="leak-suite"),
        OpenTelemetrySink(provider),
        *(AggregateMetricsSink(meters, s.name) for s in policy.streams),
    ]
    return Exports(PrivacyLog(policy, sinks=sinks), tmp_path / "jsonl", receiver, sdk, reader)


# --- the three frameworks --------------------------------------------------------------------------


def fastapi_requests(pl: PrivacyLog) -> None:
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, privlog=pl, user_id=lambda scope: USER)

    @app.get("/users/{uid}")
    async def user(uid: int) -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/login")
    async def login(request: Request) -> dict[str, str]:
        log_auth_event("login_failure", user_id=USER, request=request)
        return {"ok": "no"}

    @app.websocket("/ws/{room}")
    async def chat(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(text)
        await websocket.close()

    for client in ((PEER, 50123), ("127.0.0.1", 50124)):
        with TestClient(app, client=client) as c:
            for i, path in enumerate((ROUTED, UNROUTED)):
                c.get(f"{path}?{QUERY}", headers=headers(i))
            c.post(f"/login?{QUERY}", headers=headers(0), json={"email": USER})
            with c.websocket_connect(f"/ws/{USER}?{QUERY}", headers=headers(1)) as ws:
                ws.send_text(f"hello from {USER}")
                ws.receive_text()


def flask_requests(pl: PrivacyLog) -> None:
    app = Flask(__name__)
    ext = PrivacyLogExtension(app, privlog=pl, user_id=lambda: USER)

    @app.get("/users/<int:uid>")
    def user(uid: int) -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/login")
    def login() -> tuple[str, int]:
        ext.auth_event("login_failure", user_id=USER)
        return "no", 401

    for peer in (PEER, "127.0.0.1"):
        with app.test_client() as c:
            for i, path in enumerate((ROUTED, UNROUTED)):
                c.get(f"{path}?{QUERY}", headers=headers(i), environ_base={"REMOTE_ADDR": peer}).close()
            c.post(f"/login?{QUERY}", headers=headers(0), environ_base={"REMOTE_ADDR": peer}).close()


def django_requests(pl: PrivacyLog) -> None:
    from django.test import Client, override_settings

    with override_settings(PRIVLOG=pl):
        for peer in (PEER, "127.0.0.1"):
            for i, path in enumerate((f"/users/{NUMBER}/", UNROUTED)):
                Client(headers=headers(i), REMOTE_ADDR=peer).get(f"{path}?{QUERY}")
            # A failed login: Django's signal gives the username tried as the user id.
            login = Client(headers=headers(0), REMOTE_ADDR=peer)
            login.post(f"/login/?{QUERY}", {"username": USER, "password": "JaneDoeLeakPassword"})


FRAMEWORKS: dict[str, Callable[[PrivacyLog], None]] = {
    "fastapi": fastapi_requests,
    "flask": flask_requests,
    "django": django_requests,
}


@pytest.fixture(scope="module", autouse=True)
def django_site(tmp_path_factory: pytest.TempPathFactory) -> None:
    configure(tmp_path_factory.mktemp("django"))


# --- the suite -------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy_file", POLICIES, ids=lambda p: p.stem)
@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_nothing_planted_is_exported(
    framework: str, policy_file: Path, tmp_path: Path, receiver: OtlpReceiver
) -> None:
    exports = deploy(Policy.from_toml(policy_file, environ=ENV), tmp_path, receiver)
    try:
        FRAMEWORKS[framework](exports.privlog)
        hits = exports.hits()
        stats = exports.privlog.stats()
    finally:
        exports.privlog.close()
    assert hits == {"jsonl": [], "otlp": [], "sdk": [], "metrics": []}
    assert stats.failed == stats.dropped == 0


def test_the_requests_reach_every_part_the_policies_read(tmp_path: Path, receiver: OtlpReceiver) -> None:
    """The suite is only as good as its requests: they must be recorded, and parsed as planted."""
    exports = deploy(Policy.from_toml(POLICIES[-1], environ=ENV), tmp_path, receiver)
    fastapi_requests(exports.privlog)
    exports.privlog.flush()
    records = [d.log_record.attributes or {} for d in exports.sdk.get_finished_logs()]
    exports.privlog.close()
    kinds = {r.get("event.name") for r in records}
    assert {"http.request", "websocket.session", "auth.login_failure"} <= kinds
    addresses = {r.get("client.address") for r in records if r.get("privlog.stream") == "analytics"}
    assert {"203.0.113.0", "198.51.100.0"} <= addresses  # the peer, and the client behind the proxy
    assert any(r.get("user.id") for r in records)  # the user id was read, and pseudonymised
    assert any(r.get("url.query") == "page&sort&q" for r in records)  # both values rejected
    assert any(r.get("user_agent.name") == "Other" for r in records)
    # exported over OpenTelemetry: a list of one string, as the semantic conventions have it
    assert any(list(r.get("http.request.header.referer") or []) == ["http://{ip}:8080"] for r in records)
    assert exports.privlog.stats().rejected > 0


# --- the search finds what a policy keeps ----------------------------------------------------------


def test_a_policy_keeping_the_raw_path_and_query_values_is_caught(tmp_path: Path, receiver: OtlpReceiver) -> None:
    data = policy_dict(
        path="keep",
        status="keep",
        user_agent="generalise",
        query={"action": "allowlist", "allow": ["q"], "values": {"q": ["JaneDoeLeakSearch"]}},
    )
    data["metrics"] = {"enabled": True, "stream": "access"}
    exports = deploy(Policy.from_dict(data, environ=ENV), tmp_path, receiver)
    try:
        fastapi_requests(exports.privlog)
        hits = exports.hits()
    finally:
        exports.privlog.close()
    for channel in ("jsonl", "otlp", "sdk"):
        assert {NUMBER, "janedoeleak", "jane.doe.leak", PATH_TOKEN.lower(), PEER} <= set(hits[channel]), channel


def test_a_metric_dimension_holding_a_planted_value_is_caught(tmp_path: Path, receiver: OtlpReceiver) -> None:
    # The metrics keep route templates; a route named after the planted value shows the search
    # reads the metrics as it reads the records.
    exports = deploy(Policy.from_dict(policy_dict(path="template", status="keep"), environ=ENV), tmp_path, receiver)
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, privlog=exports.privlog)

    @app.get("/janedoeleak/{uid}")
    async def planted_route(uid: int) -> dict[str, str]:
        return {}

    with TestClient(app) as c:
        c.get("/janedoeleak/1")
    try:
        hits = exports.hits()
    finally:
        exports.privlog.close()
    assert hits["metrics"] == ["janedoeleak"]


def test_the_needles_occur_nowhere_by_chance(tmp_path: Path, receiver: OtlpReceiver) -> None:
    """Ordinary traffic through every policy exports none of the needles (no false alarms)."""
    for policy_file in POLICIES:
        exports = deploy(Policy.from_toml(policy_file, environ=ENV), tmp_path / policy_file.stem, receiver)
        app = FastAPI()
        app.add_middleware(PrivacyLogMiddleware, privlog=exports.privlog)

        @app.get("/users/{uid}")
        async def user(uid: int) -> dict[str, str]:
            return {}

        with TestClient(app) as c:
            for i in range(50):
                c.get(f"/users/{i}?page={i}", headers={"user-agent": "Mozilla/5.0 Firefox/133.0"})
        try:
            channels = exports.channels()
        finally:
            exports.privlog.close()
        for data in channels.values():
            assert not [n for n in NEEDLES if n.encode() in data.lower()]
