"""The two files beside a key store's ``keys.json``: the legal holds' ``held-keys.json`` and the
last-visit ``subject.key``. Both live outside the ratchet, so ``store.py`` reads them here."""

from __future__ import annotations

import os
import secrets
from datetime import date
from pathlib import Path

import orjson

from .ring import KeyRing, derive, key_id_of
from .storefile import damaged

HELD_KEYS_FILE = "held-keys.json"
"""Key ids a legal hold keeps from shredding, with the hold's last day (written by ``privlog hold``)."""
SUBJECT_KEY_FILE = "subject.key"
"""The key of last-visit subjects: not rotated, since a last-visit rule links visits across
rotations; deleting this file makes every last-visit subject unlinkable (see docs/keys.md)."""


def read_held_keys(store_path: Path, today: date) -> frozenset[str]:
    """Key ids an active legal hold keeps (``held-keys.json`` beside the store file)."""
    try:
        data = orjson.loads(store_path.with_name(HELD_KEYS_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return frozenset()
    if not isinstance(data, dict):
        return frozenset()
    held = set()
    for key_id, until in data.items():
        try:
            if date.fromisoformat(str(until)) >= today:
                held.add(str(key_id))
        except ValueError:
            held.add(str(key_id))  # unreadable: keep the key rather than shred what a hold needs
    return frozenset(held)


def open_subject_ring(store_path: Path, algorithm: str) -> KeyRing:
    """The ring of last-visit subjects, from ``subject.key`` beside the store file (made on first use)."""
    path = store_path.with_name(SUBJECT_KEY_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise damaged(path)
    master = derive(key, "privlog subject v1")
    return KeyRing(master, algorithm, key_id_of(master, "subject"))
