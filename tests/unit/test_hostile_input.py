"""Hostile input that once got through: each test here failed before its fix (issue #10).

Requests go through the real ASGI middleware and pipeline (a bare ASGI app, no framework), so
what is asserted is what a sink receives.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware, log_auth_event
from privlog._transforms.useragent import (
    BOT_FAMILY,
    BROWSER_FAMILIES,
    DEVICE_CLASSES,
    KNOWN_BOTS,
    OS_FAMILIES,
    UserAgentGeneraliser,
)
from privlog.flask import PrivacyLogExtension

from ..support.policies import ENV, policy_dict
from ..support.sinks import ListSink

UA = UserAgentGeneraliser()


def make_privlog(sink: ListSink, *, events: list[str] | None = None, **fields: Any) -> PrivacyLog:
    data = policy_dict(**fields) if fields else policy_dict()
    data["proxies"] = {"trusted": ["127.0.0.1"]}
    data["secret"] = {"env": "PRIVLOG_SECRET"}
    data["export"] = {"flush_interval": 60}  # the worker waits for flush(): nothing races the test
    if events is not None:
        data["streams"]["access"]["events"] = events
    return PrivacyLog(Policy.from_dict(data, environ=ENV), sinks=[sink])


def scope(
    path: str = "/", query: bytes = b"", headers: Mapping[str, str] | None = None, client: str = "127.0.0.1"
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode("utf-8")) for k, v in (headers or {}).items()],
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    pass


def one_request(pl: PrivacyLog, sink: ListSink, request_scope: dict[str, Any]) -> dict[str, Any]:
    """The record of one request through the ASGI middleware."""
    asyncio.run(PrivacyLogMiddleware(_ok, privlog=pl)(request_scope, _receive, _send))
    pl.flush()
    (record,) = sink.stream("access")
    return record


# --- 1. Request state handed to the worker is a copy --------------------------------------------


def _reuse(environ: dict[str, Any], **values: str) -> None:
    """What uWSGI does between requests: empty the environ and fill it with the next one."""
    environ.clear()
    environ.update(values)


#: Fields that show whose request a record was read from.
WHOSE = MappingProxyType({"path": "template", "client_ip": "truncate", "user_agent": "keep"})


class TestRequestStateIsCopied:
    def test_flask_auth_event_keeps_its_own_request(self) -> None:
        sink = ListSink()
        pl = make_privlog(sink, events=["auth"], **WHOSE)
        app = Flask(__name__)
        ext = PrivacyLogExtension(app, privlog=pl)
        seen: list[dict[str, Any]] = []

        @app.post("/login")
        def login() -> str:
            from flask import request

            ext.auth_event("login_failure")
            seen.append(request.environ)
            return "no"

        headers = {"X-Forwarded-For": "198.51.100.1", "User-Agent": "alice-agent"}
        with app.test_client() as client:
            client.post("/login", headers=headers).close()
        _reuse(
            seen[0],
            REQUEST_METHOD="GET",
            PATH_INFO="/other/1",
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR="203.0.113.2",
            HTTP_USER_AGENT="bob-agent",
        )
        pl.flush()
        (event,) = sink.stream("access")
        assert event["client.address"] == "198.51.100.0"
        assert event["user_agent.original"] == "alice-agent"
        assert event["http.route"] == "/login"
        pl.close()

    def test_asgi_auth_event_keeps_its_own_request(self) -> None:
        sink = ListSink()
        pl = make_privlog(sink, events=["auth"], **WHOSE)
        request = scope("/login", headers={"x-forwarded-for": "198.51.100.1", "user-agent": "alice-agent"})
        log_auth_event("login_failure", request=request, privlog=pl)
        request.update(
            scope("/other/1", headers={"x-forwarded-for": "203.0.113.2", "user-agent": "bob-agent"})
        )
        pl.flush()
        (event,) = sink.stream("access")
        assert (event["client.address"], event["user_agent.original"]) == ("198.51.100.0", "alice-agent")
        pl.close()

    def test_asgi_request_keeps_its_own_scope(self) -> None:
        sink = ListSink()
        pl = make_privlog(sink, **WHOSE)
        request = scope("/a/1", headers={"x-forwarded-for": "198.51.100.1", "user-agent": "alice-agent"})
        asyncio.run(PrivacyLogMiddleware(_ok, privlog=pl)(request, _receive, _send))
        request.update(
            scope("/other/1", headers={"x-forwarded-for": "203.0.113.2", "user-agent": "bob-agent"})
        )
        pl.flush()
        (record,) = sink.stream("access")
        assert (record["client.address"], record["user_agent.original"]) == ("198.51.100.0", "alice-agent")
        pl.close()

    def test_django_source_holds_a_copy_of_the_asgi_scope(self) -> None:
        from privlog.django._source import read_django, request_source

        request = SimpleNamespace(
            META={"REMOTE_ADDR": "127.0.0.1"}, scope=scope("/a", headers={"user-agent": "alice-agent"})
        )
        source = request_source(request)
        request.scope.update(scope("/b", headers={"user-agent": "bob-agent"}))
        request.META["REMOTE_ADDR"] = "203.0.113.2"
        facts = read_django(source, frozenset({b"user-agent"}))
        assert (facts.path, facts.headers[b"user-agent"]) == ("/a", "alice-agent")


# --- 2. The user agent comes out of closed sets ---------------------------------------------------


def _in_closed_sets(info: tuple[str, str | None, str, str]) -> None:
    family, major, os_family, device = info
    assert family in BROWSER_FAMILIES | {"Other", BOT_FAMILY, *KNOWN_BOTS.values()}, family
    assert major is None or re.fullmatch(r"[0-9]{1,3}", major), major
    assert major is None or family != "Other"
    assert os_family in OS_FAMILIES | {"Other"}, os_family
    assert device in DEVICE_CLASSES


class TestUserAgent:
    @pytest.mark.parametrize(
        "ua",
        [
            "curl/4917055512345",
            "Chrome/4917055512345.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/4917055512345.0.0.0 Safari/537.36",
        ],
    )
    def test_a_long_version_is_dropped(self, ua: str) -> None:
        family, major, _, _ = UA(ua)
        assert family in {"curl", "Chrome"}
        assert major is None

    @pytest.mark.parametrize(
        "ua",
        [
            "Jane Doe Leak/4711 CFNetwork/1494.0.7 Darwin/23.4.0",
            "Jane Doe Leak-iPhone/4711 CFNetwork/1494.0.7 Darwin/23.4.0",
            "JaneDoeLeak/1.0",
            "Mozilla/5.0 (X11; Linux x86_64) Jane Doe Leak/4711",
        ],
    )
    def test_a_name_the_client_made_up_is_other(self, ua: str) -> None:
        info = UA(ua)
        assert "Jane" not in repr(info)
        assert "4711" not in repr(info)
        _in_closed_sets(info)

    @settings(max_examples=300)
    @given(st.text(max_size=200))
    def test_any_string_gives_closed_set_values(self, ua: str) -> None:
        _in_closed_sets(UA(ua))

    @settings(max_examples=300)
    @given(
        st.sampled_from(
            [
                "{name}/{v} CFNetwork/1494.0.7 Darwin/23.4.0",
                "{name}-iPhone/{v} CFNetwork/1 Darwin/23",
                "Mozilla/5.0 (compatible; {name}/{v})",
                "{name}/{v}",
                "Mozilla/5.0 (Linux; Android 14; {name}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Mobile",
                "Mozilla/5.0 ({name} {v}; x) Gecko/20100101 Firefox/{v}",
            ]
        ),
        st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"]), min_size=1, max_size=60),
        st.text(st.characters(codec="ascii", categories=["N"]), min_size=1, max_size=20),
    )
    def test_client_chosen_names_and_versions_give_closed_set_values(
        self, form: str, name: str, v: str
    ) -> None:
        _in_closed_sets(UA(form.format(name=name, v=v)))

    def test_the_closed_sets_are_names_ua_parser_can_produce(self) -> None:
        from ua_parser_builtins import matchers

        ua_rules, os_rules, _ = matchers.MATCHERS
        for families, rules in ((BROWSER_FAMILIES, ua_rules), (OS_FAMILIES, os_rules)):
            literal = {r.family for r in rules}
            patterns = [re.compile(r.regex) for r in rules if "$1" in r.family]
            sources = " ".join(p.pattern for p in patterns)
            for name in families:
                # A fixed name, or one a rule copies from the string (``(Chromium|Chrome)/(\\d+)``).
                assert name in literal or name in sources or any(
                    p.search(probe) for p in patterns for probe in (f"{name}/1.0", f"{name} 1.0", f"({name};")
                ), name

    def test_the_metric_dimension_is_closed_too(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        from privlog.sinks.metrics import AggregateMetricsSink

        sink = ListSink()
        pl = make_privlog(sink, path="template", status="keep", user_agent="generalise")
        reader = InMemoryMetricReader()
        pl.dispatcher.sinks = (*pl.dispatcher.sinks, AggregateMetricsSink(MeterProvider([reader]), "access"))
        one_request(
            pl, sink, scope(headers={"user-agent": "Jane Doe Leak/4711 CFNetwork/1494.0.7 Darwin/23.4.0"})
        )
        data = reader.get_metrics_data()
        assert data is not None
        text = data.to_json()
        assert "Jane" not in text
        assert "4711" not in text
        assert '"user_agent.name": "Other"' in text
        pl.close()
