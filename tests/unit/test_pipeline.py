"""The compiled pipeline: allow-listed fields only, transformed, tagged with retention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from privlog import Pipeline, Policy
from privlog._core.capture import Capture
from privlog.asgi import read_asgi_scope

from ..support.policies import ENV, FULL, REQUEST_ID, SECRET, policy_dict
from ..support.requests import capture, scope


def records(sc: dict[str, Any], **kw: Any) -> dict[str, dict[str, Any]]:
    pipeline = Pipeline(Policy.from_dict(FULL, environ=ENV))
    return {o.stream: o.attributes for o in pipeline.process(capture(sc, **kw))}


class TestFields:
    def test_security_stream_fields(self) -> None:
        sec = records(scope())["security"]
        assert sec["http.request.method"] == "GET"
        assert sec["url.scheme"] == "https"
        assert sec["network.protocol.version"] == "1.1"
        assert sec["url.path"] == "/users/{id}"  # no router: scrubbed
        assert sec["http.response.status_code"] == 200
        assert sec["http.response.body.size"] == 345
        assert sec["http.server.request.duration"] == 0.0015
        assert sec["user_agent.name"] == "Firefox"
        assert sec["user_agent.version"] == "133"
        assert sec["user_agent.os.name"] == "Linux"
        assert sec["privlog.language"] == "de"
        assert sec["client.port"] == 51234
        assert sec["http.request.header.x-request-id"] == REQUEST_ID
        assert len(sec["privlog.client.address"]) == 32
        assert "client.address" not in sec  # a hash is no address for geo-IP enrichment
        assert sec["http.request.header.x-tenant"] != "acme-corp"

    def test_fields_not_listed_are_absent(self) -> None:
        ana = records(scope())["analytics"]
        for attr in (
            "user.id",
            "session.id",
            "user_agent.name",
            "client.port",
            "http.request.header.x-request-id",
        ):
            assert attr not in ana

    def test_analytics_truncates_and_filters_the_query(self) -> None:
        ana = records(scope())["analytics"]
        assert ana["client.address"] == "203.0.113.0"
        assert ana["url.query"] == "q&page=3"
        assert ana["http.request.header.referer"] == "https://mail.example.com"

    def test_route_template_from_the_router_wins(self) -> None:
        class Route:
            path_format = "/users/{user_id}"

        sc = scope()
        sc["route"] = Route()
        sec = records(sc)["security"]
        assert sec["http.route"] == sec["url.path"] == "/users/{user_id}"

    def test_mounted_route_gets_its_prefix(self) -> None:
        class Route:
            path_format = "/items/{item_id}"

        sc = scope()
        sc.update(route=Route(), root_path="/shop/42", app_root_path="")
        # Without the app's router the mount's template is unknown: a placeholder, never the raw prefix.
        assert records(sc)["security"]["http.route"] == "/{mount}/items/{item_id}"

    def test_unknown_method_is_other(self) -> None:
        sc = scope()
        sc["method"] = "PROPFIND"
        assert records(sc)["security"]["http.request.method"] == "_OTHER"


class TestTags:
    def test_every_record_carries_its_retention_class(self) -> None:
        out = records(scope())
        sec, ana = out["security"], out["analytics"]
        assert sec["privlog.stream"] == "security"
        assert sec["privlog.retention.class"] == "security"
        assert sec["privlog.retention.days"] == 90
        assert sec["privlog.purpose"] == "security"
        assert sec["privlog.legal_basis"] == "legitimate interest"
        assert ana["privlog.retention.days"] == 7
        start = datetime.fromisoformat("2025-11-24T16:00:00+00:00")
        expires = datetime.fromisoformat(sec["privlog.retention.expires_at"].replace("Z", "+00:00"))
        assert expires - start == timedelta(days=90)

    def test_key_id_only_where_a_key_was_used(self) -> None:
        out = records(scope())
        assert len(out["security"]["privlog.key_id"]) == 8
        assert "privlog.key_id" not in out["analytics"]

    def test_tags_are_the_last_entries_and_shared_by_a_streams_records(self) -> None:
        """Exporters may encode ``Output.tags`` once: it must equal the record's trailing entries."""
        pipeline = Pipeline(Policy.from_dict(FULL, environ=ENV))
        first = {o.stream: o for o in pipeline.process(capture(scope()))}
        second = {o.stream: o for o in pipeline.process(capture(scope(xff="198.51.100.9")))}
        for name, out in first.items():
            assert out.tags is not None
            trailing = list(out.attributes.items())[-len(out.tags) :]
            assert trailing == list(out.tags.items())
            assert second[name].tags is out.tags
        assert first["security"].tags is not None
        assert first["security"].tags["privlog.key_id"] == first["security"].attributes["privlog.key_id"]


class TestConsentAndEvents:
    def test_gpc_and_dnt_skip_the_gated_stream_only(self) -> None:
        assert set(records(scope(sec_gpc="1"))) == {"security"}
        assert set(records(scope(dnt="1"))) == {"security"}
        assert set(records(scope(dnt="0"))) == {"security", "analytics"}

    def test_auth_events_go_only_to_streams_that_take_them(self) -> None:
        pipeline = Pipeline(Policy.from_dict(FULL, environ=ENV))
        cap = Capture.auth("login_failure", 1_764_000_000_000_000_000, "bob")
        (out,) = pipeline.process(cap)
        assert out.stream == "security"
        assert out.attributes["event.name"] == "auth.login_failure"
        assert out.attributes["user.id"] != "bob"

    def test_websocket_counters(self) -> None:
        pipeline = Pipeline(Policy.from_dict(FULL, environ=ENV))
        sc = scope()
        sc["type"] = "websocket"
        counts = {"messages_in": 2, "messages_out": 3, "bytes_in": 10, "bytes_out": 30, "close_code": 1000}
        cap = Capture.of(
            "websocket",
            reader=read_asgi_scope,
            source=sc,
            start_ns=1_764_000_000_000_000_000,
            duration_ns=2_000_000_000,
            status=101,
            request_bytes=10,
            response_bytes=30,
            extra=counts,
        )
        outs = {o.stream: o.attributes for o in pipeline.process(cap)}
        assert set(outs) == {"security", "analytics"}  # analytics takes http and websocket by default
        attrs = outs["security"]
        assert attrs["event.name"] == "websocket.session"
        assert attrs["privlog.websocket.messages_out"] == 3
        assert attrs["privlog.session.start"] == "2025-11-24T16:00:00.000Z"
        assert attrs["privlog.session.end"] == "2025-11-24T16:00:02.000Z"


class TestPseudonyms:
    def test_user_and_session_are_pseudonymised_stably(self) -> None:
        a = records(scope())["security"]
        b = records(scope())["security"]
        assert a["user.id"] == b["user.id"]
        assert a["session.id"] == b["session.id"]
        assert "alice" not in a["user.id"]

    def test_a_different_key_gives_different_pseudonyms(self) -> None:
        a = records(scope())["security"]
        other = Pipeline(Policy.from_dict(FULL, environ={"PRIVLOG_SECRET": "z" * 20 + "9876543210jihgfedcba"}))
        b = {o.stream: o.attributes for o in other.process(capture(scope()))}["security"]
        assert a["user.id"] != b["user.id"]
        assert a["privlog.client.address"] != b["privlog.client.address"]
        assert a["privlog.key_id"] != b["privlog.key_id"]


PIPELINE = Pipeline(Policy.from_dict(FULL, environ=ENV))
EVERY_IP = Pipeline(
    Policy.from_dict({**policy_dict(client_ip="keep"), "proxies": FULL["proxies"]}, environ=ENV)
)  # a policy that keeps raw addresses: shows the property below can fail


def exported_bytes(addr: str, pipeline: Any = PIPELINE) -> bytes:
    sc = scope(xff=addr)
    return b"\n".join(orjson.dumps(o.attributes) for o in pipeline.process(capture(sc)))


def host_bits_set(addr: Any) -> bool:
    bits = 24 if addr.version == 4 else 48
    return int(addr) & ((1 << (addr.max_prefixlen - bits)) - 1) != 0


class TestNothingPersonalLeaves:
    @settings(max_examples=300)
    @given(st.ip_addresses().filter(lambda a: not getattr(a, "ipv4_mapped", None)).filter(host_bits_set))
    def test_for_any_address_no_exported_byte_contains_it(self, addr: Any) -> None:
        assert str(addr).encode() not in exported_bytes(str(addr))

    def test_the_property_can_fail(self) -> None:
        assert b"203.0.113.195" in exported_bytes("203.0.113.195", EVERY_IP)

    def test_no_raw_identifier_cookie_token_or_query_value(self) -> None:
        blob = exported_bytes("203.0.113.195")
        for secret in (
            b"alice@example.com",
            b"sess-abcdef123456",
            b"jane",
            b"abc123secret",
            b"acme-corp",
            b"inbox",
            b"4711",
            b"theme",
            SECRET.encode(),
        ):
            assert secret not in blob


class TestProxyHeaderChoice:
    def _client(self, header: str | None, **headers: str) -> str:
        data = {**policy_dict(client_ip="truncate"), "proxies": {"trusted": ["127.0.0.1"]}}
        if header is not None:
            data["proxies"]["header"] = header
        pipeline = Pipeline(Policy.from_dict(data, environ=ENV))
        (out,) = pipeline.process(capture(scope(xff=None, **headers)))
        return str(out.attributes["client.address"])

    def test_x_forwarded_for_by_default_and_a_client_sent_forwarded_is_ignored(self) -> None:
        assert (
            self._client(None, x_forwarded_for="198.51.100.23", forwarded="for=203.0.113.66")
            == "198.51.100.0"
        )

    def test_forwarded_when_the_policy_says_so(self) -> None:
        assert (
            self._client("forwarded", x_forwarded_for="198.51.100.23", forwarded="for=203.0.113.66")
            == "203.0.113.0"
        )
