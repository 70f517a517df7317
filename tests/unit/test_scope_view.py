"""A capture keeps only the scope keys a reader looks at, so the rest of the request is freed
when the request ends.

Holding whole scope copies until the worker's next batch kept every request's state, path
parameters and framework objects alive, which under a real server cost the app about a tenth of
its requests per second. The view must give the same facts (Python's reader) and the same bytes
(the compiled path's own reader) as the whole scope did.
"""

from __future__ import annotations

import gc
import re
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from privlog._asgi_scope import READ_KEYS, ScopeReader, read_asgi_scope, scope_view
from privlog._core.capture import Capture, Facts

from ..support.policies import ENV, FULL

FACTS = Facts.__slots__


class Recording(dict[str, Any]):
    """A scope that notes every key a reader asks for."""

    def __init__(self, scope: dict[str, Any]) -> None:
        super().__init__(scope)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def facts_of(scope: Any, reader: Any) -> tuple[Any, ...]:
    wanted = frozenset({b"user-agent", b"x-forwarded-for", b"cookie", b"accept-language", b"x-request-id"})
    facts = reader(scope, wanted)
    return tuple(getattr(facts, name) for name in FACTS)


junk = st.dictionaries(st.sampled_from(["state", "path_params", "extensions", "server", "asgi", "raw_path", "endpoint"]), st.integers())


class Template:
    """A matched Starlette route as the scope holds it: only ``path_format`` is read."""

    def __init__(self, path_format: Any) -> None:
        self.path_format = path_format


# Every key a reader reads, each present or absent, with None and odd values among the rest.
OPTIONAL = {
    "method": st.sampled_from(["GET", "POST", None, b"GET"]),
    "scheme": st.sampled_from(["http", "https", "ws", None]),
    "http_version": st.sampled_from(["1.1", "2", None]),
    "path": st.sampled_from(["/users/7", "/api/acme/users/7", "/x\ud800", "", None]),
    "query_string": st.sampled_from([b"page=2&q=jane", b"", None, "page=1"]),
    "client": st.sampled_from([("203.0.113.9", 5000), ("10.0.0.2", 1), None, (), "10.0.0.1:80"]),
    "headers": st.lists(
        st.tuples(st.sampled_from([b"user-agent", b"X-Forwarded-For", b"cookie", b"x-other"]), st.binary(max_size=12)),
        max_size=5,
    ),
    "route": st.one_of(st.none(), st.sampled_from(["/users/{uid}", None, 42]).map(Template)),
    "root_path": st.sampled_from(["", "/api/acme", None]),
    "app_root_path": st.sampled_from(["", "/api/acme", None]),
}


@st.composite
def scopes_with_junk(draw: st.DrawFn) -> dict[str, Any]:
    scope: dict[str, Any] = {**draw(junk), "type": draw(st.sampled_from(["http", "websocket"]))}
    for key, strategy in OPTIONAL.items():
        if draw(st.booleans()):
            scope[key] = draw(strategy)
    return scope


class Mounted:
    """A top router whose one route is a mount, for templates rebuilt through mounts."""

    def __init__(self) -> None:
        inner = type("Inner", (), {"path_regex": re.compile(r"^/users/(?P<uid>[^/]+)$"), "path_format": "/users/{uid}", "routes": None})
        mount = type("Mount", (), {"path_regex": re.compile(r"^/api/(?P<tenant>[^/]+)(?P<path>/.*)$"), "path": "/api/{tenant}", "routes": [inner()]})
        self.routes = [mount()]


class TestTheViewReadsAsTheScope:
    @given(scopes_with_junk(), st.sampled_from(["plain", "mounted"]))
    def test_pythons_reader_asks_only_for_the_kept_keys(self, scope: dict[str, Any], kind: str) -> None:
        reader = read_asgi_scope if kind == "plain" else ScopeReader(Mounted())
        recording = Recording(scope)
        try:
            expected = facts_of(recording, reader)
        except Exception as refused:  # a hostile scope the reader refuses: the view must refuse it too
            with pytest.raises(type(refused)):
                facts_of(scope_view(scope), reader)
            return
        assert recording.asked <= set(READ_KEYS)
        assert facts_of(scope_view(scope), reader) == expected

    @given(scopes_with_junk())
    def test_absent_keys_stay_absent(self, scope: dict[str, Any]) -> None:
        view = scope_view(scope)
        assert set(view) == set(scope) & set(READ_KEYS)
        assert all(view[key] is scope[key] for key in view)

    @given(st.lists(scopes_with_junk(), min_size=1, max_size=6))
    def test_the_compiled_reader_makes_the_same_bytes_from_the_view(self, scopes: list[dict[str, Any]]) -> None:
        pytest.importorskip("privlog_native")
        from privlog import Pipeline
        from privlog._core.native import NativePipeline
        from privlog.sinks._otlp_encode import LogEncoder

        from ..support.native import OBSERVED, Reference, native_jsonl_files

        policy = Policy.from_dict(FULL, environ=ENV)
        encoder = LogEncoder({"service.name": "svc"}, "privlog", "0.1.0")

        def caps(view: bool) -> list[Capture]:
            return [
                Capture("http", ScopeReader(None), scope_view(s) if view else s, 1_764_000_000 * 10**9 + i, 1000, 200, 0, 5, None, None)
                for i, s in enumerate(scopes)
            ]

        whole = Reference(Pipeline(policy), encoder, caps(view=False))
        result = NativePipeline(Pipeline(policy), encoder).run(caps(view=True), OBSERVED)
        assert result.failed == whole.failed
        assert result.batch.otlp() == whole.otlp
        if whole.jsonl is not None:
            assert native_jsonl_files(result.batch.jsonl()) == whole.jsonl


class Marker:
    """A request-scoped object: it must die with the request, not with the worker's batch."""


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[TestClient, PrivacyLog, list[weakref.ref[Marker]]]]:
    markers: list[weakref.ref[Marker]] = []

    async def user(request: Request) -> PlainTextResponse:
        marker = Marker()
        request.scope["state"]["marker"] = marker  # where apps and middleware keep per-request objects
        request.scope["my.framework.object"] = marker
        markers.append(weakref.ref(marker))
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/users/{user_id:int}", user), Mount("/api/{tenant}", routes=[Route("/users/{uid}", user)])])
    privlog = PrivacyLog(Policy.from_dict(FULL, environ=ENV), directory=tmp_path)
    privlog.tmp_path = tmp_path  # type: ignore[attr-defined]
    privlog.dispatcher._start_worker = False  # the captures wait in the queue, as between two batches
    with TestClient(PrivacyLogMiddleware(app, privlog=privlog)) as client:
        yield client, privlog, markers
    privlog.close()


def test_queued_captures_keep_only_what_the_reader_needs(served: Any) -> None:
    client, privlog, markers = served
    for path in ("/users/7?page=2", "/api/acme/users/9"):
        assert client.get(path, headers={"user-agent": "curl/8.0"}).status_code == 200
    queued = list(privlog.dispatcher._queue)
    assert len(queued) == 2
    for capture in queued:
        assert set(capture.source) <= set(READ_KEYS)
        assert {"type", "method", "path", "headers", "query_string"} <= set(capture.source)
    del queued, capture
    gc.collect()
    assert len(markers) == 2
    assert all(ref() is None for ref in markers), "a request's objects outlived the request"


def test_records_from_the_view_keep_routes_through_mounts(served: Any) -> None:
    client, privlog, _ = served
    client.get("/users/7?page=2")
    client.get("/api/acme/users/9")
    privlog.flush()
    lines = "".join(p.read_text() for p in sorted(privlog.tmp_path.rglob("*.jsonl")))
    assert "/users/{user_id}" in lines or "/users/{user_id:int}" in lines
    assert "/api/{tenant}/users/{uid}" in lines
    assert "acme" not in lines
