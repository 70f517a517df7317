"""The key source a policy names, opened when a pipeline is built (at start-up).

A static secret (from the environment or a file) derives a key per epoch; a key store made
by ``privlog keys init`` ratchets and shreds its keys. The store is checked against the
policy here: it must keep keys at least as long as the longest keyed stream keeps records.
"""

from __future__ import annotations

from typing import Protocol

from .._errors import ConfigurationError
from .epochs import StaticKeys
from .store import KeyStore


class KeySettings(Protocol):
    """What a policy says about its keys (a :class:`privlog.Policy` has these attributes)."""

    @property
    def key_store(self) -> str | None: ...
    @property
    def secret(self) -> bytes | None: ...
    @property
    def rotation(self) -> str: ...
    @property
    def hash_algorithm(self) -> str: ...
    @property
    def keyed_retention_days(self) -> int: ...


Keys = StaticKeys | KeyStore
"""Where the key ring of a record's epoch comes from."""


def open_keys(policy: KeySettings) -> Keys | None:
    """The policy's key source, or None when no stream uses a key."""
    if policy.key_store is not None:
        store = KeyStore.load(policy.key_store, policy.hash_algorithm)
        needed = policy.keyed_retention_days
        if store.retention_days < needed:
            raise ConfigurationError(
                "secret.store",
                f"the key store keeps keys {store.retention_days} days, but a keyed stream keeps records {needed} days",
                f"create a store with `privlog keys init DIR --retention-days {needed}`",
            )
        return store
    if policy.secret is not None:
        return StaticKeys(policy.secret, policy.rotation, policy.hash_algorithm)
    return None
