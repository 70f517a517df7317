"""Each transform of the compiled path against Python's, one field at a time (hypothesis).

Every test runs a one-stream policy holding the field under test through both paths and
compares the bytes (see ``native_support.compare``), with inputs aimed at that transform.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("privlog_native")

from privlog import Policy

from ..support.native import compare, make_capture
from ..support.policies import ENV
from .test_native import (
    SHAPES,
    addresses,
    chains,
    forwarded,
    languages,
    latin1,
    paths,
    queries,
    referrers,
    user_agents,
)

MANY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def policy(fields: dict[str, Any], headers: dict[str, Any] | None = None, **top: Any) -> Policy:
    data = {
        "service": "svc",
        "retention": {"r": {"days": 30, "purpose": "ops", "legal_basis": "legitimate interest"}},
        "streams": {"s": {"retention": "r", "fields": {"timestamp": "keep", **fields}, "headers": headers or {}}},
        **top,
    }
    return Policy.from_dict(data, environ=ENV)


def check(p: Policy, facts_list: list[dict[str, Any]], **numbers: Any) -> None:
    compare(p, [make_capture(f, **numbers) for f in facts_list])  # asserts the same bytes


class TestAddresses:
    @MANY
    @given(
        st.sampled_from(["keep", "hash", "cryptopan", "truncate"]),
        st.integers(0, 32),
        st.integers(0, 128),
        st.sampled_from(["x-forwarded-for", "forwarded"]),
        st.lists(st.tuples(st.one_of(addresses, st.just("10.0.0.9")), chains, forwarded), min_size=1, max_size=6),
    )
    def test_client_addresses(self, action: str, v4: int, v6: int, header: str, hops: list[Any]) -> None:
        spec: dict[str, Any] = {"action": action}
        if action == "truncate":
            spec.update(ipv4_prefix=v4, ipv6_prefix=v6)
        p = policy({"client_ip": spec}, proxies={"trusted": ["10.0.0.0/8", "2001:db8::/32"], "header": header})
        facts = [{"peer": peer, "headers": {b"x-forwarded-for": xff, b"forwarded": fwd}} for peer, xff, fwd in hops]
        check(p, facts)

    @MANY
    @given(st.ip_addresses(), st.integers(0, 128))
    def test_truncation_and_cryptopan_of_any_address(self, address: Any, bits: int) -> None:
        for spec in ({"action": "truncate", "ipv4_prefix": min(bits, 32), "ipv6_prefix": bits}, "cryptopan", "keep"):
            check(policy({"client_ip": spec}), [{"peer": str(address)}])


class TestText:
    @MANY
    @given(st.sampled_from(["scrub", "template", "keep"]), st.lists(st.one_of(paths, st.text(max_size=30)), min_size=1, max_size=6))
    def test_paths(self, action: str, items: list[str]) -> None:
        check(policy({"path": action}), [{"path": p} for p in items])

    @MANY
    @given(
        st.lists(st.sampled_from(["page", "q", "é", "a b", "x+y", "%"]), unique=True, max_size=4).flatmap(
            lambda allow: st.tuples(st.just(allow), st.lists(st.sampled_from(allow), unique=True) if allow else st.just([]))
        ),
        st.lists(queries, min_size=1, max_size=6),
        SHAPES,
    )
    def test_queries(self, allow_values: tuple[list[str], list[str]], items: list[bytes], shape: Any) -> None:
        allow, values = allow_values
        p = policy({"query": {"action": "allowlist", "allow": allow, "values": {n: shape for n in values}}})
        check(p, [{"query": q} for q in items])

    @MANY
    @given(st.sampled_from(["origin", "keep"]), st.lists(st.one_of(referrers, st.text(max_size=40)), min_size=1, max_size=6))
    def test_referrers(self, action: str, items: list[str]) -> None:
        check(policy({"referrer": action}), [{"headers": {b"referer": r}} for r in items])

    @MANY
    @given(st.lists(st.one_of(languages, st.text(max_size=12)), min_size=1, max_size=6))
    def test_languages(self, items: list[str]) -> None:
        check(policy({"language": "generalise"}), [{"headers": {b"accept-language": v}} for v in items])

    @MANY
    @given(st.sampled_from(["generalise", "keep"]), st.lists(st.one_of(user_agents, st.text(max_size=80)), min_size=1, max_size=6))
    def test_user_agents(self, action: str, items: list[str]) -> None:
        check(policy({"user_agent": action}), [{"headers": {b"user-agent": ua}} for ua in items])


class TestKeyedValues:
    @MANY
    @given(
        st.sampled_from(["pseudonymise", "hash", "reversible", "keep"]),
        st.sampled_from(["blake2b", "hmac-sha256"]),
        st.sampled_from(["session", "sid", "a.b", "ü"]),
        st.lists(st.tuples(st.text(max_size=20), latin1(40), latin1(20)), min_size=1, max_size=6),
    )
    def test_ids_cookies_and_headers(self, action: str, algorithm: str, cookie: str, values: list[Any]) -> None:
        header_action: Any = {"action": "keep", "pattern": ["r1", "é"]} if action == "keep" else action
        p = policy(
            {"user_id": action, "session_id": {"action": action, "cookie": cookie}},
            {"x-request-id": header_action, "x-tenant": "hash"},
            secret={"algorithm": algorithm},
        )
        for user, cookies, header in values:
            check(p, [{"headers": {b"cookie": cookies, b"x-request-id": header, b"x-tenant": header}}], user_id=user)


COOKIE_PARTS = ["session", "sid", "s;x", "=", ";", " ", "\t", "\xa0", '"', "x", "abc", "session=", "; ", '="', "é"]
cookie_texts = st.lists(st.sampled_from(COOKIE_PARTS), max_size=14).map("".join)


class TestSessionCookies:
    @MANY
    @given(st.sampled_from(["session", "sid", "s;x", "a.b"]), st.lists(cookie_texts, min_size=1, max_size=6))
    def test_found_as_pythons_regex_finds_them(self, cookie: str, texts: list[str]) -> None:
        p = policy({"session_id": {"action": "keep", "cookie": cookie}})
        check(p, [{"headers": {b"cookie": text}} for text in texts])


class TestNumbers:
    @MANY
    @given(st.lists(st.integers(-(2**80), 2**80), min_size=1, max_size=8), st.integers(0, 2**64))
    def test_durations_sizes_and_times(self, numbers: list[int], start: int) -> None:
        p = policy({"duration": "keep", "status": "keep", "request_bytes": "keep", "response_bytes": "keep"})
        for n in numbers:
            check(p, [{"headers": {b"content-length": str(abs(n) % 10**17)}}], duration_ns=n, status=n, response_bytes=n, start_ns=start)
