"""Keyed hashing and pseudonyms.

Unsalted hashes of IP addresses are reversible by enumerating the address space, so every
hash privlog writes is keyed with the deployment's secret. Each output carries the key id,
which identifies the key without revealing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass


def _derive(secret: bytes, label: bytes) -> bytes:
    # Domain-separated subkeys: a hash in one role never equals a hash in another.
    return hashlib.blake2b(
        label, key=hashlib.blake2b(secret, digest_size=64).digest(), digest_size=32
    ).digest()


@dataclass(frozen=True, repr=False)
class KeyRing:
    """The keys of one deployment, derived once from its secret."""

    key_id: str
    _hash_key: bytes
    _pseudonym_key: bytes
    algorithm: str

    def __repr__(self) -> str:
        return f"KeyRing(key_id={self.key_id!r}, algorithm={self.algorithm!r})"

    @classmethod
    def from_secret(cls, secret: bytes, algorithm: str = "blake2b") -> KeyRing:
        """Derive the key id and the hashing and pseudonym keys from a secret."""
        key_id = hashlib.blake2b(secret, digest_size=4, person=b"privlog-key-id").hexdigest()
        return cls(
            key_id, _derive(secret, b"privlog hash v1"), _derive(secret, b"privlog pseudonym v1"), algorithm
        )

    def hasher(self, domain: str) -> Callable[[bytes], str]:
        """A keyed hash (128-bit, hex) for one field; different fields give different hashes."""
        key = hashlib.blake2b(domain.encode(), key=self._hash_key, digest_size=32).digest()
        if self.algorithm == "hmac-sha256":
            digest = hmac.digest

            def hmac_hash(value: bytes) -> str:
                return digest(key, value, "sha256")[:16].hex()

            return hmac_hash
        blake = hashlib.blake2b

        def blake_hash(value: bytes) -> str:
            return blake(value, key=key, digest_size=16).hexdigest()

        return blake_hash

    def pseudonymiser(self, domain: str) -> Callable[[bytes], str]:
        """A stable, short pseudonym (96-bit, base32) for one kind of identifier."""
        key = hashlib.blake2b(domain.encode(), key=self._pseudonym_key, digest_size=32).digest()
        blake = hashlib.blake2b
        b32 = base64.b32encode

        def pseudonymise(value: bytes) -> str:
            return b32(blake(value, key=key, digest_size=15).digest()).decode().lower()

        return pseudonymise
