"""The key store's file: its format, and the locked in-place reads and writes that keep
concurrent processes from undoing each other's rotations and shreddings."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from .._errors import ConfigurationError
from .epochs import MAX_RETENTION_DAYS, ROTATIONS, ratchet

_CHAIN_ID = re.compile(r"[0-9a-z]{1,16}")


@dataclass
class Chain:
    id: str  # stable random name, part of every key id of this chain
    from_epoch: int  # first epoch this chain covers
    origin: int  # epoch whose key ``state`` derives directly; earlier ones are shredded
    state: bytes = field(repr=False)  # key material: never in a repr

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from_epoch": self.from_epoch,
            "origin_epoch": self.origin,
            "state": base64.b64encode(self.state).decode(),
        }


def legacy_chain_id(from_epoch: int, nth: int) -> str:
    """The id of a chain written before chains had one: stable, as ``from_epoch`` never changes."""
    return hashlib.blake2b(f"privlog chain {from_epoch} {nth}".encode(), digest_size=2).hexdigest()


def new_chain_id(chains: list[Chain]) -> str:
    taken = {c.id for c in chains}
    while True:
        chain_id = secrets.token_hex(2)
        if chain_id not in taken:
            return chain_id


def damaged(path: Path) -> ConfigurationError:
    return ConfigurationError(
        "secret.store", f"the key store at {path} cannot be read", "restore it from the host copy"
    )


def parse_store(raw: bytes, path: Path) -> tuple[str, int, list[Chain]]:
    """Rotation, retention and chains of a store file. Errors never quote the file's content."""
    try:
        data = orjson.loads(raw)
        rotation, days = str(data["rotation"]), int(data["retention_days"])
        chains: list[Chain] = []
        legacy: dict[int, int] = {}
        for c in data["chains"]:
            from_epoch = int(c["from_epoch"])
            chain_id = c.get("id")
            if chain_id is None:
                nth = legacy[from_epoch] = legacy.get(from_epoch, -1) + 1
                chain_id = legacy_chain_id(from_epoch, nth)
            state = base64.b64decode(c["state"], validate=True)
            if not isinstance(chain_id, str) or not _CHAIN_ID.fullmatch(chain_id) or len(state) != 32:
                raise ValueError("bad chain")
            chains.append(Chain(chain_id, from_epoch, int(c["origin_epoch"]), state))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise damaged(path) from None
    if rotation not in ROTATIONS:
        raise ConfigurationError("secret.store", f"unknown rotation in {path}", "recreate the store")
    if not 0 < days <= MAX_RETENTION_DAYS or not chains:
        raise damaged(path)
    return rotation, days, chains


def dump_store(rotation: str, retention_days: int, chains: list[Chain]) -> bytes:
    return orjson.dumps(
        {
            "version": 1,
            "rotation": rotation,
            "retention_days": retention_days,
            "chains": [c.to_json() for c in chains],
        }
    )


def read_fd(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    parts = []
    while chunk := os.read(fd, 65536):
        parts.append(chunk)
    return b"".join(parts)


def overwrite(fd: int, data: bytes) -> None:
    # Overwrite in place, then truncate: the old state's bytes are replaced rather than left
    # behind in an unlinked file (see docs/keys.md for what a disk can still keep).
    old_size = os.fstat(fd).st_size
    padded = data + b" " * max(0, old_size - len(data))
    os.lseek(fd, 0, os.SEEK_SET)
    written = 0
    while written < len(padded):
        written += os.write(fd, padded[written:])
    os.fsync(fd)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def file_version(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def merge_chains(mine: list[Chain], disk: list[Chain]) -> list[Chain]:
    """The chains to work on: the file's, except where this process has shredded further.

    A chain the file no longer has stays dropped; a chain only the file has (a rotation by
    another process) is taken; where the file's ratchet is behind this process's (a store
    restored from a copy), the further-ratcheted state is kept, so no shredded key returns.
    """
    by_key = {(c.id, c.from_epoch): c for c in mine}
    out = []
    for chain in disk:
        held = by_key.get((chain.id, chain.from_epoch))
        if (
            held is not None
            and held.origin > chain.origin
            and hmac.compare_digest(ratchet(chain.state, held.origin - chain.origin), held.state)
        ):
            chain = replace(held)
        out.append(chain)
    return out


def chain_epochs(chains: list[Chain]) -> list[tuple[str, int, int]]:
    """Which keys the chains can derive: a change means copies of keys must be dropped."""
    return [(c.id, c.from_epoch, c.origin) for c in chains]


def last_epoch(chains: list[Chain], index: int, now: int) -> int:
    """The last epoch chain ``index`` keys: a chain replaced by ``rotate`` still made the
    records of the epoch it was replaced in."""
    return chains[index + 1].from_epoch if index + 1 < len(chains) else now
