"""Legal holds on a data subject: what their identifier became, kept past every sweep.

``privlog hold add`` computes the subject's pseudonyms under every key still held (as
``privlog subject`` does) and, for streams whose retention counts from the last visit, their
subject pseudonym; the hold log keeps only those, never the raw identifier.
"""

from __future__ import annotations

from datetime import date

from .._keys.source import open_keys
from .._policy.model import Policy
from .._transforms.address import parse_ip
from ..sinks.holdlog import Hold, HoldLog
from .subject import subject_matches


def subject_pseudonyms(policy: Policy, *, user_id: str | None = None, ip: str | None = None) -> list[str]:
    """The last-visit subject pseudonyms of an identifier, in the streams that count from it."""
    raw: dict[str, bytes] = {}
    if user_id is not None:
        raw["user_id"] = user_id.encode("utf-8", "surrogatepass")
    if ip is not None:
        packed = parse_ip(ip)
        if packed is None:
            raise ValueError("--ip is not an IP address")
        raw["client_ip"] = packed
    fields = {s.retention.subject for s in policy.streams if s.retention.subject in raw}
    if not fields:
        return []
    keys = open_keys(policy)
    if keys is None:
        return []
    ring = keys.subject_ring()
    return sorted({ring.pseudonymiser(f"subject:{f}")(raw[f]) for f in fields if f is not None})


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
    return log.add(reason, until, [(m.attribute, m.value, m.key_id) for m in matches], subjects)
