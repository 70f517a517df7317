"""Reversible pseudonyms: deterministic authenticated encryption with AES-SIV (RFC 5297).

A keyed hash can never be undone; some investigations need to go back from a pseudonym to the
value (an abuse report, a data subject's access request), by whoever holds the key. AES-SIV
derives its IV from the input, so one value always seals to one token and tokens still group
and join like hashes, while a changed or foreign token fails authentication instead of
revealing garbage. The domain (the field's name) is the associated data: a token made for one
field does not open as another.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

PREFIX = "r1."
"""Marks a reversible token, version 1 (AES-SIV, urlsafe base64 without padding)."""

_SIV_SIZE = 16  # the synthetic IV that leads every sealed value

KEY_SIZES = (32, 48, 64)
"""AES-SIV key lengths (two AES keys of 128, 192 or 256 bits); 64 bytes is AES-SIV-256."""


def _cipher(key: bytes) -> AESSIV:
    if len(key) not in KEY_SIZES:
        raise ValueError("an AES-SIV key is 32, 48 or 64 bytes long")
    return AESSIV(key)


def make_sealer(key: bytes, domain: str) -> Callable[[bytes], str]:
    """A function sealing a value into an opaque, deterministic token for one domain."""
    encrypt = _cipher(key).encrypt
    associated = [domain.encode()]
    b64 = base64.urlsafe_b64encode

    def seal(value: bytes) -> str:
        return PREFIX + b64(encrypt(value, associated)).rstrip(b"=").decode("ascii")

    return seal


def reveal(key: bytes, domain: str, token: str) -> bytes:
    """The value sealed in ``token``; ValueError if it was not made with this key and domain.

    The messages never carry the token or the key, so they are safe to log.
    """
    cipher = _cipher(key)
    if not token.startswith(PREFIX):
        raise ValueError("not a reversible privlog token")
    text = token[len(PREFIX) :]
    try:
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        sealed = b""
    # The decoder skips stray characters; only the canonical spelling of a token opens it.
    if len(sealed) < _SIV_SIZE or base64.urlsafe_b64encode(sealed).rstrip(b"=") != text.encode():
        raise ValueError("not a reversible privlog token")
    try:
        return cipher.decrypt(sealed, [domain.encode()])
    except InvalidTag:
        raise ValueError("token was not made with this key") from None
