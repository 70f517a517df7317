"""Legal holds on a data subject: what their identifier became, kept past every sweep.

``privlog hold add`` computes the subject's pseudonyms under every key still held (as
``privlog subject`` does) and, for streams whose retention counts from the last visit, their
subject pseudonym; the hold log keeps only those, never the raw identifier.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

import orjson

from .._keys.store import HELD_KEYS_FILE
from .._policy.model import Policy
from ..sinks.holdlog import Hold, HoldLog
from .subject import ANY_KEY, subject_matches, subject_pseudonyms


def place_hold(
    policy: Policy,
    log: HoldLog,
    *,
    reason: str,
    until: date,
    user_id: str | None = None,
    ip: str | None = None,
    today: date | None = None,
) -> Hold:
    """Place a hold on the records of the subject with this user id and/or address."""
    matches = subject_matches(policy, user_id=user_id, ip=ip, today=today)
    subjects = subject_pseudonyms(policy, user_id=user_id, ip=ip)
    if not matches and not subjects:
        raise ValueError("this policy neither hashes nor pseudonymises those identifiers: nothing to hold")
    hold = log.add(
        reason, until, [(m.attribute, m.value, m.key_id) for m in matches], subjects, key_store=policy.key_store
    )
    if policy.key_store is not None:
        sync_held_keys(log, policy.key_store, today or date.today())
    return hold


def release_hold(log: HoldLog, hold_id: str, today: date | None = None) -> Hold:
    """Release a hold; its keys may then be shredded on schedule."""
    hold = log.release(hold_id)
    if hold.key_store is not None:
        sync_held_keys(log, hold.key_store, today or date.today())
    return hold


def sync_held_keys(log: HoldLog, key_store: str, today: date) -> None:
    """Write the key ids the active holds keep into the key store's ``held-keys.json``, so the
    running processes that shred keys keep those (a ratchet keeps every later epoch too)."""
    held: dict[str, str] = {}
    for hold in log.active(today):
        if hold.key_store != key_store:
            continue
        for _, _, key_id in hold.pseudonyms:
            if key_id != ANY_KEY:
                held[key_id] = max(held.get(key_id, ""), hold.until.isoformat())
    path = Path(key_store) / HELD_KEYS_FILE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".held-keys-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(held))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
