"""Keyed hashes and pseudonyms."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from privlog._keys.ring import KeyRing

A = KeyRing.from_secret(b"a" * 32)
B = KeyRing.from_secret(b"b" * 32)


class TestPseudonyms:
    @given(st.binary(max_size=64))
    def test_stable_under_one_key(self, value: bytes) -> None:
        assert A.pseudonymiser("user_id")(value) == A.pseudonymiser("user_id")(value)

    @given(st.binary(max_size=64))
    def test_differ_across_keys(self, value: bytes) -> None:
        assert A.pseudonymiser("user_id")(value) != B.pseudonymiser("user_id")(value)

    @given(st.binary(max_size=64))
    def test_differ_across_fields(self, value: bytes) -> None:
        assert A.pseudonymiser("user_id")(value) != A.pseudonymiser("session_id")(value)

    @given(st.binary(min_size=1, max_size=64), st.binary(min_size=1, max_size=64))
    def test_distinct_inputs_give_distinct_pseudonyms(self, x: bytes, y: bytes) -> None:
        if x != y:
            assert A.pseudonymiser("user_id")(x) != A.pseudonymiser("user_id")(y)


class TestHash:
    def test_hmac_and_blake2b_differ_and_are_128_bit_hex(self) -> None:
        hmac_ring = KeyRing.from_secret(b"a" * 32, "hmac-sha256")
        x = A.hasher("client_ip")(b"\xcb\x00\x71\x01")
        y = hmac_ring.hasher("client_ip")(b"\xcb\x00\x71\x01")
        assert x != y
        assert len(x) == len(y) == 32
        int(x, 16)

    def test_key_id_identifies_the_key_without_revealing_it(self) -> None:
        assert A.key_id != B.key_id
        assert A.key_id == KeyRing.from_secret(b"a" * 32).key_id
        assert "aaaa" not in repr(A)
