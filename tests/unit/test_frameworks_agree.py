"""One request, one policy, four stacks (FastAPI, Flask, Django WSGI, Django ASGI): same record.

Route syntax differs per framework, so the request goes to a literal route (``/hello``);
everything else, transformed values included, must be identical.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client, override_settings
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from flask import Flask
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog
from privlog.asgi import PrivacyLogMiddleware as AsgiMiddleware
from privlog.flask import PrivacyLogExtension

from ..support.django_site import configure
from ..support.policies import ENV, REQUEST_ID
from ..support.sinks import ListSink

USER_PK = 90817263  # the Django test site's user; the other stacks report the same id
URL = "/hello?page=2&q=cats&email=alice%40example.com"
HEADERS = {
    "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "accept-language": "de-CH,de;q=0.9,en;q=0.8",
    "referer": "https://search.example.org/results?q=alice+smith",
    "x-forwarded-for": "198.51.100.77",
    "x-request-id": REQUEST_ID,
    "x-tenant": "acme",
}
COOKIES = {"sid": "s3ss10n-t0ken", "theme": "dark"}  # through each client's jar, beside its own
POLICY = {
    "service": "agree",
    "proxies": {"trusted": ["127.0.0.1"]},
    "retention": {"ops": {"days": 7, "purpose": "operations", "legal_basis": "legitimate interest"}},
    "streams": {
        "access": {
            "retention": "ops",
            "fields": {
                "timestamp": "keep",
                "method": "keep",
                "scheme": "keep",
                "http_version": "keep",
                "path": "template",
                "query": {"action": "allowlist", "allow": ["page", "q"], "values": {"page": "int"}},
                "status": "keep",
                "request_bytes": "keep",
                "response_bytes": "keep",
                "referrer": "origin",
                "user_agent": "generalise",
                "language": "generalise",
                "client_ip": "hash",
                "user_id": "pseudonymise",
                "session_id": {"action": "pseudonymise", "cookie": "sid"},
            },
            "headers": {"x-request-id": {"action": "keep", "pattern": "uuid"}, "x-tenant": "hash"},
        },
        "coarse": {"retention": "ops", "fields": {"client_ip": {"action": "truncate", "ipv4_prefix": 16}}},
    },
}
RAW = ("198.51.100.77", "alice", "cats", "s3ss10n", "acme", "90817263", "search.example.org/results")


@pytest.fixture(scope="module", autouse=True)
def django_site(tmp_path_factory: pytest.TempPathFactory) -> None:
    configure(tmp_path_factory.mktemp("django-agree"))


def via_fastapi(privlog: PrivacyLog) -> None:
    app = FastAPI()
    app.add_middleware(AsgiMiddleware, privlog=privlog, user_id=lambda scope: USER_PK)

    @app.get("/hello", response_class=PlainTextResponse)
    async def hello() -> str:
        return "hello"

    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        client.cookies.update(COOKIES)
        assert client.get(URL, headers=HEADERS).text == "hello"


def via_flask(privlog: PrivacyLog) -> None:
    app = Flask(__name__)
    PrivacyLogExtension(app, privlog=privlog, user_id=lambda: USER_PK)

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    with app.test_client() as client:
        for name, value in COOKIES.items():
            client.set_cookie(name, value)
        with client.get(URL, headers=HEADERS) as response:
            assert response.text == "hello"


def _alice() -> Any:
    from django.contrib.auth.models import User

    return User.objects.get(pk=USER_PK)


def via_django(privlog: PrivacyLog) -> None:
    with override_settings(PRIVLOG=privlog):
        client = Client(headers=HEADERS)
        client.force_login(_alice())  # its login signal is an auth event, which no stream takes
        client.cookies.load(COOKIES)
        assert client.get(URL).content == b"hello"


def via_django_asgi(privlog: PrivacyLog) -> None:
    async def run() -> bytes:
        client = AsyncClient()  # headers per request: AsyncClient(headers=) misnames them in the scope
        await sync_to_async(client.force_login)(await sync_to_async(_alice)())  # aforce_login is Django 5+
        client.cookies.load(COOKIES)
        return (await client.get(URL, headers=HEADERS)).content

    with override_settings(PRIVLOG=privlog):
        assert asyncio.run(run()) == b"hello"


STACKS: dict[str, Callable[[PrivacyLog], None]] = {
    "fastapi": via_fastapi,
    "flask": via_flask,
    "django": via_django,
    "django-asgi": via_django_asgi,
}


def records(stack: str) -> list[dict[str, Any]]:
    sink = ListSink()
    privlog = PrivacyLog(Policy.from_dict(POLICY, environ=ENV), sinks=[sink])
    try:
        STACKS[stack](privlog)
        privlog.flush()
    finally:
        privlog.close()
    out = []
    for rec in sink.records:
        attrs = dict(rec.attributes)
        del attrs["privlog.retention.expires_at"]  # derived from the request's own time
        out.append(attrs)
    return out


def test_every_stack_writes_the_same_records() -> None:
    results = {stack: records(stack) for stack in STACKS}
    reference = results.pop("fastapi")
    access, coarse = reference
    # The reference itself is what the policy promises, so agreeing on it means something.
    assert access["url.path"] == access["http.route"] == "/hello"
    assert access["url.query"] == "page=2&q"
    assert access["http.request.header.referer"] == "https://search.example.org"
    assert access["privlog.language"] == "de"
    assert access["user_agent.name"] == "Safari"
    assert access["http.response.body.size"] == 5
    assert access["http.request.body.size"] == 0
    assert access["http.request.header.x-request-id"] == REQUEST_ID
    assert access["user.id"]
    assert access["session.id"]
    assert access["privlog.client.address"]  # hashed: not in client.address
    assert coarse["client.address"] == "198.51.0.0"
    for stack, recs in results.items():
        assert recs == reference, stack
        blob = orjson.dumps(recs).decode()
        for raw in RAW:
            assert raw not in blob, (stack, raw)


def test_a_different_client_gives_a_different_hash() -> None:
    """Guards the comparison above: the hashed address does depend on the client."""
    first = records("flask")[0]["privlog.client.address"]
    HEADERS["x-forwarded-for"] = "198.51.100.78"
    try:
        second = records("flask")[0]["privlog.client.address"]
    finally:
        HEADERS["x-forwarded-for"] = "198.51.100.77"
    assert first != second
