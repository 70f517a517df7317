"""Reversible pseudonyms (AES-SIV): round trip, determinism, domain and key separation, tampering."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privlog._keys.reversible import PREFIX, make_sealer, reveal

KEY = bytes(range(64))
OTHER_KEY = bytes(range(1, 65))
SEAL = make_sealer(KEY, "user_id")
SECRET_VALUE = b"jane.doe@example.com"


def refused(key: bytes, domain: str, token: str) -> str:
    with pytest.raises(
        ValueError, match=r"^(token was not made with this key|not a reversible privlog token)$"
    ) as excinfo:
        reveal(key, domain, token)
    message = str(excinfo.value)
    body = token[len(PREFIX) :]
    assert token not in message
    assert not body or body not in message
    assert key.hex() not in message
    assert repr(key) not in message
    return message


@settings(max_examples=200)
@given(value=st.binary(max_size=300))
def test_round_trip(value: bytes) -> None:
    token = SEAL(value)
    assert token.startswith(PREFIX)
    assert token == SEAL(value)
    assert reveal(KEY, "user_id", token) == value


@given(value=st.binary(max_size=64))
def test_token_is_urlsafe_text_without_padding(value: bytes) -> None:
    body = SEAL(value)[len(PREFIX) :]
    assert "=" not in body
    assert set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@given(one=st.binary(max_size=32), two=st.binary(max_size=32))
def test_different_values_give_different_tokens(one: bytes, two: bytes) -> None:
    assert (SEAL(one) == SEAL(two)) == (one == two)


def test_deterministic_across_sealers() -> None:
    assert make_sealer(KEY, "user_id")(SECRET_VALUE) == SEAL(SECRET_VALUE)


@pytest.mark.parametrize("size", [32, 48, 64])
def test_every_aes_siv_key_size(size: int) -> None:
    key = bytes(range(size))
    assert reveal(key, "d", make_sealer(key, "d")(b"x")) == b"x"


def test_other_domain_gives_another_token_and_does_not_open() -> None:
    token = SEAL(SECRET_VALUE)
    assert make_sealer(KEY, "session_id")(SECRET_VALUE) != token
    assert refused(KEY, "session_id", token) == "token was not made with this key"


def test_other_key_gives_another_token_and_does_not_open() -> None:
    token = SEAL(SECRET_VALUE)
    assert make_sealer(OTHER_KEY, "user_id")(SECRET_VALUE) != token
    message = refused(OTHER_KEY, "user_id", token)
    assert message == "token was not made with this key"
    assert SECRET_VALUE.decode() not in message


@settings(max_examples=200)
@given(value=st.binary(max_size=40), data=st.data())
def test_any_flipped_bit_fails(value: bytes, data: st.DataObject) -> None:
    token = SEAL(value)
    body = token[len(PREFIX) :]
    sealed = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1), label="bit")
    sealed[bit // 8] ^= 1 << (bit % 8)
    tampered = PREFIX + base64.urlsafe_b64encode(bytes(sealed)).rstrip(b"=").decode()
    assert refused(KEY, "user_id", tampered) == "token was not made with this key"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],  # truncated
        lambda t: t + "A",  # extended
        lambda t: t[:10] + "!" + t[10:],  # a character the decoder would skip
        lambda t: t[:10] + "+" + t[11:],  # standard, not urlsafe, alphabet
        lambda t: t + "==",  # padded
        lambda t: t[len(PREFIX) :],  # no prefix
        lambda t: "r2." + t[len(PREFIX) :],  # unknown version
        lambda t: PREFIX,  # empty
        lambda t: PREFIX + "AAAA",  # shorter than the synthetic IV
        lambda t: t + "é",  # not ASCII
    ],
)
def test_mangled_token_fails(mangle: object) -> None:
    token = SEAL(SECRET_VALUE)
    bad = mangle(token)  # type: ignore[operator]
    assert bad != token
    refused(KEY, "user_id", bad)


def test_bad_key_length_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="32, 48 or 64 bytes") as excinfo:
        make_sealer(b"k" * 20, "user_id")
    assert "kkkk" not in str(excinfo.value)
    with pytest.raises(ValueError, match="32, 48 or 64 bytes"):
        reveal(b"k" * 20, "user_id", SEAL(b"x"))
