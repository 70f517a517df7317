"""Anonymous aggregates: counts and durations by low-cardinality dimensions only."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from starlette.testclient import TestClient

from privlog import Policy, PolicyError, PrivacyLog, PrivacyLogMiddleware
from privlog.sinks.metrics import DIMENSIONS

from ..support.policies import ENV, FULL
from ..support.sinks import ListSink

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
        for p in m.data.data_points
    ]


def test_counts_by_route_method_status_class_and_browser() -> None:
    data = {**copy.deepcopy(FULL), "metrics": {"enabled": True, "stream": "security"}}
    data["streams"]["security"]["fields"]["user_agent"] = "generalise"
    reader = InMemoryMetricReader()
    pl = PrivacyLog(Policy.from_dict(data, environ=ENV), sinks=None, meter_provider=MeterProvider([reader]))
    pl.dispatcher.sinks = (*[s for s in pl.sinks if type(s).__name__ == "AggregateMetricsSink"], ListSink())
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, privlog=pl, user_id=lambda s: "alice@example.com")

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        if user_id == 0:
            raise HTTPException(404)
        return {"id": user_id}

    with TestClient(app, client=("127.0.0.1", 1)) as c:
        for uid in (1, 2, 3, 0):
            c.get(f"/users/{uid}", headers={"user-agent": CHROME, "x-forwarded-for": f"203.0.113.{uid + 10}"})
    pl.flush()
    counts = {
        (p.attributes["http.route"], p.attributes["http.response.status_class"]): p.value
        for p in points(reader, "privlog.requests")
    }
    assert counts == {("/users/{user_id}", "2xx"): 3, ("/users/{user_id}", "4xx"): 1}
    for p in points(reader, "privlog.requests") + points(reader, "http.server.request.duration"):
        assert set(p.attributes) <= {*DIMENSIONS, "http.response.status_class"}
        assert p.attributes["user_agent.name"] == "Chrome"
        assert "alice" not in str(p.attributes)
        assert "203.0.113" not in str(p.attributes)
    assert sum(p.count for p in points(reader, "http.server.request.duration")) == 4
    pl.close()


def test_unknown_metrics_stream_fails_at_start_up() -> None:
    with pytest.raises(
        PolicyError, match=r"metrics.stream: unknown stream 'securty'.*did you mean 'security'"
    ):
        Policy.from_dict({**FULL, "metrics": {"enabled": True, "stream": "securty"}}, environ=ENV)
