"""Keyed hashing and pseudonyms, one key ring per key epoch.

Unsalted hashes of IP addresses are reversible by enumerating the address space, so every
hash privlog writes is keyed. Each output carries the key id of its epoch, which names the
key without revealing it. A ring derives one subkey per field ("domain"), so the same value
in two fields gives unrelated outputs.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, cast

from .stretch import stretch

_b64 = binascii.b2a_base64
_URLSAFE = bytes.maketrans(b"+/", b"-_")  # on bytes: str.translate is 6x slower
_blake = hashlib.blake2b
_hmac = hmac.digest


def derive(key: bytes, label: str, size: int = 32) -> bytes:
    """A subkey of ``key`` for one purpose; subkeys of different labels are independent."""
    return _blake(label.encode(), key=_blake(key, digest_size=64).digest(), digest_size=size).digest()


def key_id_of(key: bytes, label: str = "") -> str:
    """A short public name of a key: a one-way fingerprint, prefixed by the epoch label."""
    fingerprint = _blake(key, digest_size=4, person=b"privlog-key-id").hexdigest()
    return f"{label}.{fingerprint}" if label else fingerprint


class KeyRing:
    """The keys of one epoch. Subkeys and per-field functions are derived once and cached."""

    __slots__ = ("_cache", "_hash_key", "_master", "_pseudonym_key", "algorithm", "key_id")

    def __init__(self, master: bytes, algorithm: str = "blake2b", key_id: str | None = None) -> None:
        self._master = master
        self.algorithm = algorithm
        self.key_id = key_id or key_id_of(master)
        self._hash_key = derive(master, "privlog hash v1")
        self._pseudonym_key = derive(master, "privlog pseudonym v1")
        self._cache: dict[tuple[str, str], Any] = {}

    def __repr__(self) -> str:
        return f"KeyRing(key_id={self.key_id!r}, algorithm={self.algorithm!r})"

    @classmethod
    def from_secret(cls, secret: bytes, algorithm: str = "blake2b") -> KeyRing:
        """The ring of a static secret (no rotation): keyed by the secret stretched with scrypt."""
        return cls(stretch(secret), algorithm)

    def subkey(self, label: str, size: int = 32) -> bytes:
        """Key material for another keyed transform (Crypto-PAn, AES-SIV), bound to this epoch."""
        return derive(self._master, label, size)

    def hasher(self, domain: str) -> Callable[[bytes], str]:
        """A keyed hash (128-bit, hex) for one field."""
        cached = self._cache.get(("hash", domain))
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        key = _blake(domain.encode(), key=self._hash_key, digest_size=32).digest()
        if self.algorithm == "hmac-sha256":

            def hmac_hash(value: bytes) -> str:
                return _hmac(key, value, "sha256")[:16].hex()

            fn: Callable[[bytes], str] = hmac_hash
        else:
            keyed = _blake(key=key, digest_size=16)  # copying a keyed state skips re-keying

            def blake_hash(value: bytes) -> str:
                h = keyed.copy()
                h.update(value)
                return h.hexdigest()

            fn = blake_hash
        self._cache[("hash", domain)] = fn
        return fn

    def pseudonymiser(self, domain: str) -> Callable[[bytes], str]:
        """A stable, short pseudonym (120-bit, 20 URL-safe base64 characters) for one identifier."""
        cached = self._cache.get(("pseudonym", domain))
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        key = _blake(domain.encode(), key=self._pseudonym_key, digest_size=32).digest()
        keyed = _blake(key=key, digest_size=15)

        def pseudonymise(value: bytes) -> str:
            h = keyed.copy()
            h.update(value)
            return _b64(h.digest(), newline=False).translate(_URLSAFE).decode()

        self._cache[("pseudonym", domain)] = pseudonymise
        return pseudonymise

    def sealer(self, domain: str) -> Callable[[bytes], str]:
        """Reversible pseudonyms (AES-SIV): opaque, deterministic, revealable with this ring."""
        from .reversible import make_sealer  # `cryptography` only for policies that use it

        return cast(
            "Callable[[bytes], str]",
            self.cached(
                f"seal:{domain}", lambda ring: make_sealer(ring.subkey("privlog aes-siv v1", 64), domain)
            ),
        )

    def reveal(self, domain: str, token: str) -> bytes:
        """The value behind a reversible pseudonym; ``ValueError`` if another key made it."""
        from .reversible import reveal

        return reveal(self.subkey("privlog aes-siv v1", 64), domain, token)

    def cryptopan(self) -> Callable[[bytes], str]:
        """Prefix-preserving address pseudonyms (Crypto-PAn) under this ring's key."""
        from .cryptopan import make_cryptopan  # `cryptography` only for policies that use it

        return cast(
            "Callable[[bytes], str]",
            self.cached("cryptopan", lambda ring: make_cryptopan(ring.subkey("privlog crypto-pan v1", 32))),
        )

    def keyed(self, action: str, domain: str) -> Callable[[bytes], str]:
        """The keyed transform named by a policy action, for one field."""
        if action == "hash":
            return self.hasher(domain)
        if action == "pseudonymise":
            return self.pseudonymiser(domain)
        if action == "reversible":
            return self.sealer(domain)
        return self.cryptopan()

    def cached(self, name: str, build: Callable[[KeyRing], Any]) -> Any:
        """A keyed function built once per ring (e.g. a Crypto-PAn instance)."""
        fn = self._cache.get(("other", name))
        if fn is None:
            fn = self._cache[("other", name)] = build(self)
        return fn
