"""Key epochs: how time is cut into key periods, and keys derived per epoch from a static secret.

Epochs come from a record's UTC timestamp (days; ISO weeks from Monday; calendar months), so
every process and host derives the same key for the same epoch without talking to the others.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

from .ring import KeyRing, derive, key_id_of
from .stretch import stretch

ROTATIONS = ("never", "daily", "weekly", "monthly")
DAY_NS = 86_400 * 1_000_000_000
EPOCH_DATE = date(1970, 1, 1)
RING_CACHE = 8
SUBJECT_EPOCH = -(1 << 62)  # where a key source caches its subject ring beside the epochs' rings


MAX_RETENTION_DAYS = 36_500
"""A hundred years: the longest retention (of records, and so of keys) a policy may name;
longer is a mistake, and dates past the year 9999 cannot be computed."""


class KeyShredded(LookupError):
    """The key of this epoch was destroyed; its pseudonyms can no longer be computed."""


def epoch_of(rotation: str, ts_ns: int) -> int:
    """The key epoch of a timestamp: days, weeks (from Monday) or months since 1970."""
    if rotation == "never":
        return 0
    days = ts_ns // DAY_NS
    if rotation == "daily":
        return days
    if rotation == "weekly":
        return (days + 3) // 7  # 1970-01-01 was a Thursday; weeks start on Monday
    d = EPOCH_DATE + timedelta(days=days)
    return (d.year - 1970) * 12 + d.month - 1


def epoch_start(rotation: str, epoch: int) -> date:
    """First day of an epoch (UTC)."""
    if rotation == "never":
        return EPOCH_DATE
    if rotation == "daily":
        return EPOCH_DATE + timedelta(days=epoch)
    if rotation == "weekly":
        return EPOCH_DATE + timedelta(days=epoch * 7 - 3)
    return date(1970 + epoch // 12, epoch % 12 + 1, 1)


def epoch_end(rotation: str, epoch: int) -> date:
    """First day after an epoch: its last record is made before this day."""
    if rotation == "never":
        return date.max
    return epoch_start(rotation, epoch + 1)


def epoch_label(rotation: str, epoch: int) -> str:
    """A human name for an epoch, used in key ids: ``2026-11-26``, ``2026-W48``, ``2026-11``."""
    start = epoch_start(rotation, epoch)
    if rotation == "daily":
        return start.isoformat()
    if rotation == "weekly":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if rotation == "monthly":
        return f"{start.year}-{start.month:02d}"
    return "static"


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


def epoch_today(rotation: str, today: date) -> int:
    return epoch_of(rotation, (today - EPOCH_DATE).days * DAY_NS)


def ratchet(state: bytes, steps: int) -> bytes:
    for _ in range(steps):
        state = hashlib.blake2b(state, digest_size=32, person=b"privlog-ratchet").digest()
    return state


class StaticKeys:
    """Keys from a static secret (environment or file). With a rotation, each epoch gets its
    own derived key, so pseudonyms of different epochs are unlinkable to anyone without the
    secret; nothing can be shredded, since the secret derives every epoch. Every key and key id
    comes from the secret stretched by scrypt, so testing a guessed secret costs a scrypt."""

    def __init__(self, secret: bytes, rotation: str = "never", algorithm: str = "blake2b") -> None:
        self.rotation = rotation
        self._root = stretch(secret)
        self._algorithm = algorithm
        self._rings: dict[int, KeyRing] = {}

    def __repr__(self) -> str:
        return f"StaticKeys(rotation={self.rotation!r})"

    def ring_for(self, ts_ns: int) -> KeyRing:
        epoch = epoch_of(self.rotation, ts_ns)
        ring = self._rings.get(epoch)
        if ring is None:
            if self.rotation == "never":
                ring = KeyRing(self._root, self._algorithm)
            else:
                label = epoch_label(self.rotation, epoch)
                master = derive(self._root, f"privlog epoch {self.rotation} {epoch}")
                ring = KeyRing(master, self._algorithm, key_id_of(master, label))
            if len(self._rings) >= RING_CACHE:
                self._rings.clear()
            self._rings[epoch] = ring
        return ring

    def subject_ring(self) -> KeyRing:
        """The ring of last-visit subjects: one key for as long as the secret lives, since a
        last-visit rule must link a visitor's visits across every rotation."""
        ring = self._rings.get(SUBJECT_EPOCH)
        if ring is None:
            master = derive(self._root, "privlog subject v1")
            ring = self._rings[SUBJECT_EPOCH] = KeyRing(master, self._algorithm, key_id_of(master, "subject"))
        return ring

    def held(self, days_back: int, today: date | None = None) -> list[tuple[str, KeyRing]]:
        """(label, ring) of every epoch of the last ``days_back`` days, oldest first."""
        if self.rotation == "never":
            return [("static", self.ring_for(0))]
        end = today or today_utc()
        seen: dict[int, tuple[str, KeyRing]] = {}
        for back in range(days_back, -1, -1):
            ts = ((end - EPOCH_DATE).days - back) * DAY_NS
            epoch = epoch_of(self.rotation, ts)
            if epoch not in seen:
                seen[epoch] = (epoch_label(self.rotation, epoch), self.ring_for(ts))
        return list(seen.values())
