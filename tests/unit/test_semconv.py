"""Attribute names against the OpenTelemetry semantic conventions (opentelemetry-semantic-conventions):
every name privlog writes is a convention's, privlog's own (``privlog.*``), or a deviation that
docs/semantic-conventions.md explains; header attributes are lists of strings, as the conventions say."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from privlog import Output, PrivacyLog, PrivacyLogMiddleware, log_auth_event
from privlog._core.record import otel_attributes
from privlog._policy.catalogue import FIELDS
from privlog.sinks._otlp_encode import LogEncoder

from ..support.sinks import ListSink

DOC = Path(__file__).parents[2] / "docs" / "semantic-conventions.md"

#: Names privlog writes that the conventions define differently, each explained in DOC.
DEVIATIONS = {"http.server.request.duration"}


def _conventions() -> tuple[set[str], set[str]]:
    """(attribute names, name templates such as ``http.request.header``) of the installed package."""
    names: set[str] = set()
    templates: set[str] = set()
    for package in ("opentelemetry.semconv.attributes", "opentelemetry.semconv._incubating.attributes"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for key, value in vars(module).items():
                if key.isupper() and isinstance(value, str):
                    (templates if key.endswith("_TEMPLATE") else names).add(value)
    return names, templates


NAMES, TEMPLATES = _conventions()


def _records(privlog: PrivacyLog, sink: ListSink) -> list[dict[str, Any]]:
    async def user(request: Request) -> PlainTextResponse:
        log_auth_event("login_failure", user_id="alice", request=request)
        return PlainTextResponse("ok", status_code=404)

    app = PrivacyLogMiddleware(Starlette(routes=[Route("/users/{user_id}", user)]), privlog=privlog)
    with TestClient(app, client=("203.0.113.195", 5000)) as client:
        client.get(
            "/users/4711?page=2",
            headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                     "referer": "https://news.example.com/a?b=c", "x-request-id": "9b2f6f5e-3c1a-4c7e-9d1a-2f8b7c6d5e4f", "x-tenant": "t1",
                     "accept-language": "de-DE,de;q=0.9", "cookie": "session=s1"},
        )
    privlog.flush()
    return [dict(o.attributes) for o in sink.records]


def _written(privlog: PrivacyLog, sink: ListSink) -> set[str]:
    from_catalogue = {a for spec in FIELDS.values() for a in spec.attributes}
    return from_catalogue | {k for r in _records(privlog, sink) for k in r}


class TestNames:
    def test_every_name_is_a_convention_privlogs_own_or_a_documented_deviation(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        unknown = sorted(
            name
            for name in _written(privlog, sink)
            if not name.startswith("privlog.")
            and name not in NAMES
            and not any(name.startswith(t + ".") for t in TEMPLATES)
            and name not in DEVIATIONS
        )
        assert not unknown, f"not in the semantic conventions: {unknown}"

    def test_each_deviation_is_explained(self) -> None:
        text = DOC.read_text(encoding="utf-8")
        for name in DEVIATIONS:
            assert f"`{name}`" in text

    def test_deviations_are_still_deviations(self) -> None:
        """A deviation the conventions later adopt as an attribute is no longer one: drop it."""
        from opentelemetry.semconv.metrics import http_metrics

        assert "http.server.request.duration" in vars(http_metrics).values()
        assert not DEVIATIONS & NAMES


class TestValues:
    def test_request_headers_are_exported_as_lists_of_strings(self, privlog: PrivacyLog, sink: ListSink) -> None:
        """On the record (and in the JSONL store) a string; over OTLP a list of one string."""
        records = _records(privlog, sink)
        outs = [Output("s", 7, 1, r) for r in records]
        request = ExportLogsServiceRequest()
        request.ParseFromString(LogEncoder({}, "privlog").encode(outs, 1))
        exported = [lr for rl in request.resource_logs for sl in rl.scope_logs for lr in sl.log_records]
        seen = set()
        for record, lr in zip(records, exported, strict=True):
            for kv in lr.attributes:
                if kv.key.startswith("http.request.header."):
                    seen.add(kv.key)
                    assert kv.value.WhichOneof("value") == "array_value", kv.key
                    assert [v.string_value for v in kv.value.array_value.values] == [record[kv.key]]
        assert seen >= {"http.request.header.referer", "http.request.header.x-request-id"}
        sdk_view = otel_attributes(records[0])
        assert all(isinstance(v, list) for k, v in sdk_view.items() if k.startswith("http.request.header."))

    def test_a_keyed_address_is_not_a_client_address(self, privlog: PrivacyLog, sink: ListSink) -> None:
        """Geo-IP enrichment reads client.address: a hash there would be looked up as an address."""
        records = [r for r in _records(privlog, sink) if r["event.name"] == "http.request"]
        hashed = next(r for r in records if r["privlog.stream"] == "security")  # client_ip = "hash"
        truncated = next(r for r in records if r["privlog.stream"] == "analytics")  # "truncate"
        assert "client.address" not in hashed
        assert len(hashed["privlog.client.address"]) == 32
        assert truncated["client.address"] == "203.0.113.0"
        assert "privlog.client.address" not in truncated
