"""The extension reads ASGI scopes itself: the same records as Python's reader, byte for byte.

``privlog-native`` reads the middleware's captures (the scope dict, its header list, the
client pair) without building Python objects per fact, and resolves the client behind trusted
proxies. For arbitrary scopes (non-UTF-8 and huge header values, repeated and mixed-case
headers, garbage ``X-Forwarded-For`` and ``Forwarded``, odd clients, routes and mounts) the
bytes must equal the Python pipeline's, which reads them with
``privlog._asgi_scope.read_asgi_scope``. Skipped without the extension.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("privlog_native")

from privlog import Pipeline, Policy
from privlog._asgi_scope import ScopeReader, read_asgi_scope
from privlog._core.capture import Capture
from privlog._core.native import NativePipeline
from privlog.sinks._otlp_encode import LogEncoder

from ..support.native import OBSERVED, Reference, native_jsonl_files
from ..support.policies import ENV, FULL
from .test_native import SETTINGS, UAS, addresses, chains, forwarded, paths, policies, queries

LATIN1 = st.characters(max_codepoint=255)


class Route:
    """A matched Starlette route as the scope holds it: only ``path_format`` is read."""

    def __init__(self, template: Any) -> None:
        self.path_format = template


class Raising:
    @property
    def path_format(self) -> str:
        raise RuntimeError("a router that breaks")


class Mounted:
    """A top router whose one route is a mount, for templates rebuilt through mounts."""

    class _Inner:
        import re

        path_regex = re.compile(r"^/users/(?P<uid>[^/]+)$")
        path_format = "/users/{uid}"
        routes = None

    class _Mount:
        import re

        path_regex = re.compile(r"^/api/(?P<tenant>[^/]+)(?P<path>/.*)$")
        path = "/api/{tenant}"

    def __init__(self) -> None:
        self._Mount.routes = [self._Inner()]  # type: ignore[attr-defined]
        self.routes = [self._Mount()]


header_names = st.one_of(
    st.sampled_from(
        [b"user-agent", b"User-Agent", b"X-FORWARDED-FOR", b"x-forwarded-for", b"forwarded", b"cookie", b"Cookie",
         b"referer", b"accept-language", b"x-request-id", b"x-tenant", b"sec-gpc", b"DNT", b"content-length", b"x-other", b"123"]
    ),
    st.binary(max_size=12),
)
# Proxy headers as a hostile client writes them: hops padded with Latin-1 white space (which
# str.strip() removes), NULs, zone ids, bare and bracketed IPv6, and `for=` in any case.
_padding = st.sampled_from(["", " ", "\xa0", "\x85", "\t", "\x1c", "\x00"])
_hops = st.one_of(
    addresses,
    st.sampled_from(["10.0.0.1", "127.0.0.1", "[2001:db8:ffff::1]:443", "[::1]", "1.2.3", "256.1.1.1", "0x7f.1"]),
    st.text(LATIN1, max_size=6),
)
_padded_hops = st.tuples(_padding, _hops, _padding).map("".join)
padded_chains = st.lists(_padded_hops, max_size=5).map(",".join)
odd_forwarded = st.lists(
    st.tuples(st.sampled_from(["for", "For", "FOR", " for", "by", "f\xf3r"]), st.sampled_from(["=", " = "]), st.sampled_from(['"', ""]), _padded_hops,
              st.sampled_from(['"', ""]), st.sampled_from(["", ";proto=https", ";for=10.0.0.9"])).map("".join),
    max_size=4,
).map(",".join)
header_values = st.one_of(
    padded_chains.map(lambda s: s.encode("latin-1")),
    odd_forwarded.map(lambda s: s.encode("latin-1")),
    st.sampled_from([u.encode() for u in UAS] + [b"session=s1; theme=dark", b"de-DE,de;q=0.9", b"1", b"0", b"12"]),
    chains.map(lambda s: s.encode("utf-8")),
    forwarded.map(lambda s: s.encode("utf-8")),
    st.binary(max_size=40),  # not UTF-8, control characters, anything
    st.sampled_from([b"\xff\xfe\xb2", b"203.0.113.9, 10.0.0.1", b"garbage, ,, x", b",".join([b"10.0.0.1"] * 70)]),
    st.just(b"9" * 9000),  # cut at 8 KiB
    st.just(b"203.0.113.7," * 800),  # a chain too long to believe
    st.sampled_from([b"550e8400-e29b-41d4-a716-446655440000", "²".encode("latin-1")]),
)
header_lists = st.lists(st.tuples(header_names, header_values), max_size=10)
odd_header_lists = st.sampled_from([[("user-agent", "x")], [(b"user-agent", "x")], [[b"user-agent", b"x"]], [(b"a", b"b", b"c")], "not a list"])
clients = st.one_of(
    st.tuples(st.one_of(addresses, st.sampled_from(["127.0.0.1", "10.0.0.2", "2001:db8:ffff::5", "::ffff:127.0.0.1"])), st.integers(0, 65535)),
    # Unix sockets: servers give None, an empty host, or the path (as a pair, or alone).
    st.sampled_from([("", 0), ("/run/app.sock", None), ("unix:/run/app.sock", 0), "/run/app.sock", (" 10.0.0.2\xa0", 1), ("10.0.0.2", True)]),
    st.sampled_from([None, (), ("10.0.0.2",), ["127.0.0.1", 80], ("", 0), (b"127.0.0.1", 1), ("a\ud800", 1), (1234, 1), ("127.0.0.1", 2**70), ("127.0.0.1", "80"), "10.0.0.1:80"]),
)
routes = st.one_of(
    st.none(),
    st.sampled_from(["/users/{user_id:int}", "/items/{id}", "/", "/a\ud800"]).map(Route),
    st.sampled_from([None, 42, type("Template", (str,), {})("/t/{id}")]).map(Route),
    st.just(Raising()),
    st.just(object()),
)


@st.composite
def scopes(draw: st.DrawFn) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": draw(st.sampled_from(["http", "websocket", "lifespan"]))}
    optional = {
        "method": st.one_of(st.sampled_from(["GET", "POST", "PROPFIND", None, b"GET"]), st.text(max_size=6)),
        "scheme": st.sampled_from(["http", "https", "ws", None, 1]),
        "http_version": st.sampled_from(["1.1", "2", None]),
        "path": st.one_of(paths, st.sampled_from([None, "/x\ud800", "/²"])),
        "query_string": st.one_of(queries, st.sampled_from([None, "page=1"])),
        "client": clients,
        "headers": st.one_of(header_lists, header_lists.map(tuple), odd_header_lists),
        "route": routes,
        "root_path": st.sampled_from(["", "/api/acme", None, 0]),
        "app_root_path": st.sampled_from(["", "/api/acme", None, b"/x"]),
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 5)):
            scope[key] = draw(strategy)
    return scope


@st.composite
def captures(draw: st.DrawFn) -> Capture:
    scope = draw(scopes())
    reader = draw(st.sampled_from([ScopeReader(None), ScopeReader(Mounted()), read_asgi_scope, None]))
    if reader is not None and isinstance(scope.get("route"), Route) and draw(st.booleans()):
        scope.update(path="/api/acme/users/7", root_path="/api/acme", app_root_path="")  # matched inside a mount
    return Capture(
        draw(st.sampled_from(["http", "http", "websocket", "auth"])),
        reader,
        scope if reader is not None else None,
        draw(st.integers(1_700_000_000 * 10**9, 1_800_000_000 * 10**9)),
        draw(st.integers(0, 10**10)),
        draw(st.one_of(st.none(), st.integers(100, 599), st.sampled_from(list(HTTPStatus)))),  # FastAPI apps send HTTPStatus
        draw(st.one_of(st.none(), st.integers(0, 10**6))),
        draw(st.one_of(st.none(), st.integers(0, 10**6))),
        draw(st.one_of(st.none(), st.text(max_size=8))),
        None,
    )


def same_bytes(policy: Policy, caps: list[Capture]) -> NativePipeline:
    """Assert both paths make the same bytes of ``caps``; the compiled pipeline, for its counts."""
    encoder = LogEncoder({"service.name": "svc"}, "privlog", "0.1.0")
    reference = Reference(Pipeline(policy), encoder, caps)
    native = NativePipeline(Pipeline(policy), encoder)
    result = native.run(caps, OBSERVED)
    assert result.failed == reference.failed
    assert result.batch.otlp() == reference.otlp
    if reference.jsonl is not None:
        assert native_jsonl_files(result.batch.jsonl()) == reference.jsonl
    return native


class TestSameRecordsAsPythonsReader:
    @SETTINGS
    @given(st.lists(captures(), min_size=1, max_size=8))
    def test_any_scope_under_the_full_policy(self, caps: list[Capture]) -> None:
        same_bytes(Policy.from_dict(FULL, environ=ENV), caps)

    @SETTINGS
    @given(policies(), st.lists(captures(), min_size=1, max_size=6))
    def test_any_scope_under_any_policy(self, policy: Policy, caps: list[Capture]) -> None:
        same_bytes(policy, caps)


def uvicorn_scope(i: int) -> dict[str, Any]:
    """A scope as uvicorn and Starlette leave it after a request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000 + i),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": f"/users/{4000 + i}",
        "raw_path": f"/users/{4000 + i}".encode(),
        "query_string": f"page=2&q=jane{i}".encode(),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", UAS[i % len(UAS)].encode()),
            (b"accept-language", b"de-DE,de;q=0.9"),
            (b"cookie", f"session=s3cr3t-{i:010x}; theme=dark".encode()),
            (b"x-forwarded-for", f"203.0.{i // 256 % 256}.{i % 256}".encode()),
            (b"x-request-id", f"00000000-0000-4000-8000-{i:012x}".encode()),
        ],
        "app": None,
        "route": Route("/users/{user_id:int}"),
        "path_params": {"user_id": 4000 + i},
    }


def test_the_middlewares_captures_are_read_in_the_extension() -> None:
    caps = [Capture("http", ScopeReader(None), uvicorn_scope(i), 1_764_000_000 * 10**9 + i, 1000, 200, 0, 5, None, None) for i in range(64)]
    native = same_bytes(Policy.from_dict(FULL, environ=ENV), caps)
    assert native.read_here == len(caps)


def test_other_readers_and_mounts_are_read_in_python() -> None:
    mounted = {**uvicorn_scope(1), "path": "/api/acme/users/7", "root_path": "/api/acme", "app_root_path": ""}
    caps = [
        Capture("http", ScopeReader(Mounted()), mounted, 1_764_000_000 * 10**9, 1000, 200, 0, 5, None, None),
        Capture("http", lambda scope, wanted: read_asgi_scope(scope, wanted), uvicorn_scope(2), 1_764_000_000 * 10**9, 1000, 200, 0, 5, None, None),
        Capture("http", ScopeReader(None), {**uvicorn_scope(3), "client": ("127.0.0.1",)}, 1_764_000_000 * 10**9, 1, 200, 0, 5, None, None),
    ]
    native = same_bytes(Policy.from_dict(FULL, environ=ENV), caps)
    assert native.read_here == 0
