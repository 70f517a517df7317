"""Legal holds on a data subject: what their identifier became, kept past every sweep.

``privlog hold add`` computes the subject's pseudonyms under every key still held (as
``privlog subject`` does) and, for streams whose retention counts from the last visit, their
subject pseudonym; the hold log keeps only those, never the raw identifier.
"""

from __future__ import annotations

from datetime import date

from .._policy.model import Policy
from ..sinks.holdlog import Hold, HoldLog
from .subject import subject_matches, subject_pseudonyms


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
