"""Stretching a static secret: one scrypt per secret per process.

Every key id and pseudonym of a static secret is a deterministic function of it, so whoever holds
the logs can test a guessed secret against them. Deriving every key from ``scrypt(secret)`` makes
each guess cost one scrypt (32 MiB of memory, about 0.1 s of CPU) instead of one hash; the
process pays it once per secret, at start-up, and caches the result.
"""

from __future__ import annotations

import hashlib
import os
import threading

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT = b"privlog static secret v2"
"""Fixed, since every process and host must derive the same keys from the same secret; a
deployment-wide salt would add nothing the secret's own entropy (checked at start-up) does not."""

_MAXMEM = 64 * 1024 * 1024  # scrypt needs 128 * N * r = 32 MiB; OpenSSL's default limit is 32 MiB
_CACHE_SIZE = 16
_cache: dict[bytes, bytes] = {}
_lock = threading.Lock()


def stretch(secret: bytes) -> bytes:
    """The 32-byte root key of a static secret; computed once per process per secret."""
    root = _cache.get(secret)
    if root is None:
        with _lock:  # two threads building PrivacyLogs at once pay once
            root = _cache.get(secret)
            if root is None:
                root = hashlib.scrypt(
                    secret, salt=SALT, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM, dklen=32
                )
                if len(_cache) >= _CACHE_SIZE:
                    _cache.clear()
                _cache[secret] = root
    return root


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # a fork during another thread's scrypt must not leave it held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
