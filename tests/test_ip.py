"""Client addresses: parsing, truncation and trusted-proxy resolution."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privlog._ip import INVALID, format_ip, make_client_resolver, make_truncate, parse_ip

ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6)


class TestParse:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("203.0.113.9", "203.0.113.9"),
            (" 203.0.113.9 ", "203.0.113.9"),
            ("203.0.113.9:8443", "203.0.113.9"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:DB8::1", "2001:db8::1"),
            ("fe80::1%eth0", "fe80::1"),
            ("::ffff:198.51.100.7", "198.51.100.7"),
        ],
    )
    def test_accepts_the_forms_proxies_write(self, text: str, expected: str) -> None:
        packed = parse_ip(text)
        assert packed is not None
        assert format_ip(packed) == expected

    @pytest.mark.parametrize(
        "text", ["", "unknown", "<script>", "1.2.3", "1.2.3.4.5", "999.1.1.1", "[::1", "x" * 100, "_hidden"]
    )
    def test_rejects_garbage(self, text: str) -> None:
        assert parse_ip(text) is None

    @given(st.text(max_size=80))
    def test_never_raises(self, text: str) -> None:
        parse_ip(text)

    @given(st.one_of(ipv4, ipv6))
    def test_round_trips_every_address(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        packed = parse_ip(str(addr))
        assert packed is not None
        expected = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped else addr
        assert ipaddress.ip_address(packed) == expected


class TestTruncate:
    def test_defaults_are_slash_24_and_slash_48(self) -> None:
        truncate = make_truncate()
        assert truncate(parse_ip("203.0.113.195")) == "203.0.113.0"  # type: ignore[arg-type]
        assert truncate(parse_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348")) == "2001:db8:85a3::"  # type: ignore[arg-type]

    @given(ipv4, st.integers(0, 32))
    def test_keeps_exactly_the_configured_ipv4_prefix(self, addr: ipaddress.IPv4Address, bits: int) -> None:
        out = ipaddress.IPv4Address(make_truncate(bits, 48)(addr.packed))
        assert out == ipaddress.IPv4Network(f"{addr}/{bits}", strict=False).network_address

    @given(ipv6, st.integers(0, 128))
    def test_keeps_exactly_the_configured_ipv6_prefix(self, addr: ipaddress.IPv6Address, bits: int) -> None:
        out = ipaddress.IPv6Address(make_truncate(24, bits)(addr.packed))
        assert out == ipaddress.IPv6Network(f"{addr}/{bits}", strict=False).network_address


class TestClientResolution:
    resolve = staticmethod(
        make_client_resolver([ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32")])
    )

    def _text(self, found: bytes | str | None) -> str | None:
        return found if isinstance(found, str) or found is None else format_ip(found)

    def test_untrusted_peer_headers_are_ignored(self) -> None:
        assert self._text(self.resolve("198.51.100.1", None, "203.0.113.5")) == "198.51.100.1"

    def test_trusted_peer_uses_the_right_most_untrusted_hop(self) -> None:
        assert (
            self._text(self.resolve("127.0.0.1", None, "192.0.2.1, 203.0.113.5, 10.0.0.2")) == "203.0.113.5"
        )

    def test_spoofed_left_hops_do_not_matter(self) -> None:
        # A client can write anything on the left; only the hop our proxy added counts.
        assert self._text(self.resolve("10.1.1.1", None, "1.1.1.1, 203.0.113.5")) == "203.0.113.5"

    def test_rfc7239_forwarded_wins_over_x_forwarded_for(self) -> None:
        fwd = 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
        assert self._text(self.resolve("127.0.0.1", fwd, "198.51.100.1")) == "2001:db8:cafe::17"

    def test_garbage_hop_is_marked_invalid(self) -> None:
        assert self.resolve("127.0.0.1", None, "203.0.113.5, <script>") == INVALID

    def test_all_hops_trusted_gives_the_left_most(self) -> None:
        assert self._text(self.resolve("127.0.0.1", None, "10.0.0.9, 10.0.0.2")) == "10.0.0.9"

    def test_peer_that_is_not_an_address(self) -> None:
        assert self.resolve("testclient", None, None) == INVALID

    def test_no_peer(self) -> None:
        assert self.resolve(None, None, None) is None

    def test_an_endless_chain_is_invalid(self) -> None:
        assert self.resolve("127.0.0.1", None, ",".join(["10.0.0.1"] * 1000)) == INVALID

    @given(st.text(max_size=300), st.text(max_size=300))
    def test_any_header_garbage_gives_an_address_or_invalid(self, fwd: str, xff: str) -> None:
        found = self.resolve("127.0.0.1", fwd or None, xff or None)
        assert found == INVALID or isinstance(found, bytes)
