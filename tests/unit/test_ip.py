"""Client addresses: parsing, truncation and trusted-proxy resolution."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from privlog._transforms.address import (
    INVALID,
    MAX_PROXY_HEADER,
    format_ip,
    make_client_resolver,
    make_is_trusted,
    make_truncate,
    parse_ip,
)

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
        assume(addr.sixtofour is None)  # 6to4 keeps fewer bits: tested below
        out = ipaddress.IPv6Address(make_truncate(24, bits)(addr.packed))
        assert out == ipaddress.IPv6Network(f"{addr}/{bits}", strict=False).network_address

    def test_6to4_addresses_have_their_embedded_ipv4_truncated(self) -> None:
        # 2002:cb00:7109::1 embeds 203.0.113.9; /48 alone would keep all of it.
        truncate = make_truncate()
        assert truncate(parse_ip("2002:cb00:7109::1")) == "2002:cb00:7100::"  # type: ignore[arg-type]
        assert make_truncate(16, 48)(parse_ip("2002:cb00:7109::1")) == "2002:cb00::"  # type: ignore[arg-type]
        assert make_truncate(24, 20)(parse_ip("2002:cb00:7109::1")) == "2002:c000::"  # type: ignore[arg-type]

    @given(ipv4, st.integers(0, 31), st.integers(0, 2**80 - 1), st.integers(16, 128))
    def test_6to4_never_keeps_an_embedded_address_with_host_bits(
        self, addr: ipaddress.IPv4Address, v4_bits: int, rest: int, v6_bits: int
    ) -> None:
        host = int(addr) & ((1 << (32 - v4_bits)) - 1)
        assume(host != 0)  # host bits beyond the prefix are set: they must not survive
        sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(addr) << 80) | rest)
        assert sixtofour.sixtofour == addr
        out = ipaddress.IPv6Address(make_truncate(v4_bits, v6_bits)(sixtofour.packed))
        assert (int(out) >> 80) & 0xFFFFFFFF != int(addr)
        assert int(out) & ((1 << 80) - 1) == 0  # nothing after the embedded address
        kept = min(v4_bits, v6_bits - 16)  # the embedded address keeps the shorter prefix
        embedded = ipaddress.IPv4Address((int(out) >> 80) & 0xFFFFFFFF)
        assert embedded == ipaddress.IPv4Network(f"{addr}/{kept}", strict=False).network_address


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

    def test_a_client_sent_forwarded_header_is_ignored_by_default(self) -> None:
        # nginx appends to X-Forwarded-For only; a Forwarded header came from the client.
        fwd = "for=192.0.2.66"
        assert self._text(self.resolve("127.0.0.1", fwd, "198.51.100.1")) == "198.51.100.1"
        assert self._text(self.resolve("127.0.0.1", fwd, None)) == "127.0.0.1"

    def test_rfc7239_forwarded_when_the_proxies_write_it(self) -> None:
        resolve = make_client_resolver([ipaddress.ip_network("127.0.0.1/32")], header="forwarded")
        fwd = 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
        assert self._text(resolve("127.0.0.1", fwd, "198.51.100.1")) == "2001:db8:cafe::17"
        # ... and then a client-sent X-Forwarded-For counts for nothing.
        assert self._text(resolve("127.0.0.1", None, "198.51.100.1")) == "127.0.0.1"

    def test_only_the_two_proxy_headers_can_be_chosen(self) -> None:
        with pytest.raises(ValueError, match="x-forwarded-for"):
            make_client_resolver([], header="x-real-ip")

    @pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded"])
    def test_a_header_that_may_have_been_cut_is_invalid(self, header: str) -> None:
        # The readers keep 8 KiB of a header: the right-most hops (ours) are the ones lost.
        resolve = make_client_resolver([ipaddress.ip_network("127.0.0.1/32")], header=header)
        hop = "203.0.113.5" if header == "x-forwarded-for" else "for=203.0.113.5"
        padded = " " * (MAX_PROXY_HEADER - len(hop)) + hop  # one hop, padded to the cut
        cut = padded[:MAX_PROXY_HEADER]
        args = (cut, None) if header == "forwarded" else (None, cut)
        assert resolve("127.0.0.1", *args) == INVALID
        ok = (hop, None) if header == "forwarded" else (None, hop)
        assert self._text(resolve("127.0.0.1", *ok)) == "203.0.113.5"

    @pytest.mark.parametrize(
        ("trusted", "peer"),
        [
            ("::ffff:10.0.0.2", "10.0.0.2"),
            ("::ffff:10.0.0.0/104", "10.200.0.1"),
            ("::ffff:10.0.0.0/104", "::ffff:10.200.0.1"),
        ],
    )
    def test_ipv4_mapped_trusted_proxies_match_ipv4_peers(self, trusted: str, peer: str) -> None:
        resolve = make_client_resolver([ipaddress.ip_network(trusted)])
        assert self._text(resolve(peer, None, "203.0.113.5")) == "203.0.113.5"
        # A mapped network still trusts only what it maps.
        assert self._text(resolve("11.0.0.1", None, "203.0.113.5")) == "11.0.0.1"

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

    def test_mapped_networks_are_normalised_in_the_membership_test(self) -> None:
        is_trusted = make_is_trusted([ipaddress.ip_network("::ffff:192.0.2.0/120")])
        assert is_trusted(parse_ip("192.0.2.77"))  # type: ignore[arg-type]
        assert not is_trusted(parse_ip("192.0.3.1"))  # type: ignore[arg-type]
        assert not is_trusted(parse_ip("2001:db8::1"))  # type: ignore[arg-type]

    @given(st.text(max_size=300), st.text(max_size=300))
    def test_any_header_garbage_gives_an_address_or_invalid(self, fwd: str, xff: str) -> None:
        found = self.resolve("127.0.0.1", fwd or None, xff or None)
        assert found == INVALID or isinstance(found, bytes)
