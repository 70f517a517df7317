"""Key epochs, and a key store that destroys expired keys (crypto-shredding).

Keys rotate by epoch (never, daily, weekly, monthly), computed from the record's timestamp,
so every process and host holding the same store derives the same key for the same epoch
without talking to the others. The store keeps one *ratchet state* per key chain: the key of
epoch ``e`` comes from ``H^(e - origin)(state)``, and shredding replaces the state by its
hash. Because the ratchet is one-way, the keys of epochs before the new origin can no longer
be computed from anything on disk. See docs/keys.md for the threat model.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from ._errors import PolicyError, did_you_mean
from ._keys import KeyRing, derive, key_id_of

ROTATIONS = ("never", "daily", "weekly", "monthly")
STORE_FILE = "keys.json"
_DAY_NS = 86_400 * 1_000_000_000
_EPOCH_DATE = date(1970, 1, 1)
_RING_CACHE = 8


class KeyShredded(LookupError):
    """The key of this epoch was destroyed; its pseudonyms can no longer be computed."""


def epoch_of(rotation: str, ts_ns: int) -> int:
    """The key epoch of a timestamp: days, weeks (from Monday) or months since 1970."""
    if rotation == "never":
        return 0
    days = ts_ns // _DAY_NS
    if rotation == "daily":
        return days
    if rotation == "weekly":
        return (days + 3) // 7  # 1970-01-01 was a Thursday; weeks start on Monday
    d = _EPOCH_DATE + timedelta(days=days)
    return (d.year - 1970) * 12 + d.month - 1


def epoch_start(rotation: str, epoch: int) -> date:
    """First day of an epoch (UTC)."""
    if rotation == "never":
        return _EPOCH_DATE
    if rotation == "daily":
        return _EPOCH_DATE + timedelta(days=epoch)
    if rotation == "weekly":
        return _EPOCH_DATE + timedelta(days=epoch * 7 - 3)
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


def _epoch_today(rotation: str, today: date) -> int:
    return epoch_of(rotation, (today - _EPOCH_DATE).days * _DAY_NS)


def _ratchet(state: bytes, steps: int) -> bytes:
    for _ in range(steps):
        state = hashlib.blake2b(state, digest_size=32, person=b"privlog-ratchet").digest()
    return state


class StaticKeys:
    """Keys from a static secret (environment or file). With a rotation, each epoch gets its
    own derived key, so pseudonyms of different epochs are unlinkable to anyone without the
    secret; nothing can be shredded, since the secret derives every epoch."""

    def __init__(self, secret: bytes, rotation: str = "never", algorithm: str = "blake2b") -> None:
        self.rotation = rotation
        self._secret = secret
        self._algorithm = algorithm
        self._rings: dict[int, KeyRing] = {}

    def __repr__(self) -> str:
        return f"StaticKeys(rotation={self.rotation!r})"

    def ring_for(self, ts_ns: int) -> KeyRing:
        epoch = epoch_of(self.rotation, ts_ns)
        ring = self._rings.get(epoch)
        if ring is None:
            if self.rotation == "never":
                ring = KeyRing(self._secret, self._algorithm)
            else:
                label = epoch_label(self.rotation, epoch)
                master = derive(self._secret, f"privlog epoch {self.rotation} {epoch}")
                ring = KeyRing(master, self._algorithm, key_id_of(master, label))
            if len(self._rings) >= _RING_CACHE:
                self._rings.clear()
            self._rings[epoch] = ring
        return ring

    def held(self, days_back: int, today: date | None = None) -> list[tuple[str, KeyRing]]:
        """(label, ring) of every epoch of the last ``days_back`` days, oldest first."""
        if self.rotation == "never":
            return [("static", self.ring_for(0))]
        end = today or today_utc()
        seen: dict[int, tuple[str, KeyRing]] = {}
        for back in range(days_back, -1, -1):
            ts = ((end - _EPOCH_DATE).days - back) * _DAY_NS
            epoch = epoch_of(self.rotation, ts)
            if epoch not in seen:
                seen[epoch] = (epoch_label(self.rotation, epoch), self.ring_for(ts))
        return list(seen.values())


@dataclass
class _Chain:
    from_epoch: int  # first epoch this chain covers
    origin: int  # epoch whose key ``state`` derives directly; earlier ones are shredded
    state: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "from_epoch": self.from_epoch,
            "origin_epoch": self.origin,
            "state": base64.b64encode(self.state).decode(),
        }


@dataclass(frozen=True)
class HeldEpoch:
    """One epoch whose key the store can still derive."""

    epoch: int
    label: str
    key_id: str
    shred_on: date
    ring: KeyRing


class KeyStore:
    """A file-backed key store with one-way ratchets: ``privlog keys init|status|rotate|shred``.

    Copy the store to every host of a deployment once, at ``init``; afterwards each host
    advances it on its own and all derive the same keys.
    """

    def __init__(
        self, path: Path, rotation: str, retention_days: int, chains: list[_Chain], algorithm: str = "blake2b"
    ) -> None:
        self.path = path
        self.rotation = rotation
        self.retention_days = retention_days
        self._chains = chains
        self._algorithm = algorithm
        self._rings: dict[tuple[int, int], KeyRing] = {}
        self._checked: date | None = None

    def __repr__(self) -> str:
        return f"KeyStore(path={str(self.path)!r}, rotation={self.rotation!r}, retention_days={self.retention_days})"

    # -- creating and loading ---------------------------------------------------------------
    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str],
        rotation: str = "daily",
        retention_days: int = 90,
        today: date | None = None,
    ) -> KeyStore:
        """Create a store with a fresh random key chain starting at the current epoch."""
        if rotation not in ROTATIONS:
            raise PolicyError("rotation", f"unknown rotation {rotation!r}", did_you_mean(rotation, ROTATIONS))
        if retention_days <= 0:
            raise PolicyError(
                "retention_days",
                "must be a positive number of days",
                "use your longest keyed stream's retention",
            )
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
        if (path / STORE_FILE).exists():
            raise PolicyError(
                str(path / STORE_FILE),
                "a key store already exists here",
                "use `privlog keys rotate` or another directory",
            )
        now = _epoch_today(rotation, today or today_utc())
        store = cls(path / STORE_FILE, rotation, retention_days, [_Chain(now, now, secrets.token_bytes(32))])
        store._save()
        return store

    @classmethod
    def load(cls, directory: str | os.PathLike[str], algorithm: str = "blake2b") -> KeyStore:
        """Open an existing store; a missing or damaged store is a start-up error."""
        path = Path(directory) / STORE_FILE
        try:
            data = orjson.loads(path.read_bytes())
            chains = [
                _Chain(int(c["from_epoch"]), int(c["origin_epoch"]), base64.b64decode(c["state"]))
                for c in data["chains"]
            ]
            rotation, days = str(data["rotation"]), int(data["retention_days"])
        except FileNotFoundError:
            raise PolicyError(
                "secret.store", f"no key store at {path}", "create one with `privlog keys init DIR`"
            ) from None
        except (OSError, ValueError, KeyError, TypeError):
            raise PolicyError(
                "secret.store", f"the key store at {path} cannot be read", "restore it from the host copy"
            ) from None
        if rotation not in ROTATIONS:
            raise PolicyError("secret.store", f"unknown rotation in {path}", "recreate the store")
        return cls(path, rotation, days, chains, algorithm)

    def _save(self) -> None:
        data = orjson.dumps(
            {
                "version": 1,
                "rotation": self.rotation,
                "retention_days": self.retention_days,
                "chains": [c.to_json() for c in self._chains],
            }
        )
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Overwrite in place, then truncate: the old state's bytes are replaced rather than
            # left behind in an unlinked file (see docs/keys.md for what a disk can still keep).
            os.lseek(fd, 0, os.SEEK_SET)
            old_size = os.fstat(fd).st_size
            os.write(fd, data + b" " * max(0, old_size - len(data)))
            os.fsync(fd)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- keys -------------------------------------------------------------------------------
    def _ring(self, index: int, epoch: int) -> KeyRing:
        ring = self._rings.get((index, epoch))
        if ring is not None:
            return ring
        chain = self._chains[index]
        if epoch < chain.origin:
            raise KeyShredded(f"the key of epoch {epoch_label(self.rotation, epoch)} was shredded")
        master = derive(_ratchet(chain.state, epoch - chain.origin), "privlog epoch key")
        label = epoch_label(self.rotation, epoch)
        ring = KeyRing(master, self._algorithm, key_id_of(master, f"{label}.g{index}"))
        if len(self._rings) >= _RING_CACHE:
            self._rings.clear()
        self._rings[(index, epoch)] = ring
        return ring

    def ring_for_epoch(self, epoch: int) -> KeyRing:
        """The ring new records of ``epoch`` use: the newest chain that covers it."""
        for index in range(len(self._chains) - 1, -1, -1):
            if epoch >= self._chains[index].from_epoch:
                return self._ring(index, epoch)
        raise KeyShredded(f"no key for epoch {epoch_label(self.rotation, epoch)}")

    def ring_for(self, ts_ns: int) -> KeyRing:
        """The ring of a record's epoch. Shreds expired keys once a day, in passing."""
        today = _EPOCH_DATE + timedelta(days=ts_ns // _DAY_NS)
        if today != self._checked:
            self.shred(today)
        return self.ring_for_epoch(epoch_of(self.rotation, ts_ns))

    def shred_on(self, epoch: int) -> date:
        """The day an epoch's key is destroyed: when its last record has expired."""
        end = epoch_end(self.rotation, epoch)
        return date.max if end == date.max else end + timedelta(days=self.retention_days)

    def _last_epoch(self, index: int, now: int) -> int:
        # A chain replaced by `rotate` still made the records of the epoch it was replaced in.
        return self._chains[index + 1].from_epoch if index + 1 < len(self._chains) else now

    def held(self, today: date | None = None) -> list[HeldEpoch]:
        """Every (chain, epoch) key still held, oldest first, up to the current epoch."""
        now = _epoch_today(self.rotation, today or today_utc())
        out = []
        for index, chain in enumerate(self._chains):
            for epoch in range(chain.origin, self._last_epoch(index, now) + 1):
                ring = self._ring(index, epoch)
                out.append(
                    HeldEpoch(
                        epoch, epoch_label(self.rotation, epoch), ring.key_id, self.shred_on(epoch), ring
                    )
                )
        return out

    def shred(self, today: date | None = None) -> list[str]:
        """Destroy every key whose epoch's records have all expired. Returns their labels."""
        today = today or today_utc()
        self._checked = today
        now = _epoch_today(self.rotation, today)
        shredded: list[str] = []
        kept: list[_Chain] = []
        for index, chain in enumerate(self._chains):
            last = self._last_epoch(index, now)
            epoch = chain.origin
            while epoch <= last and self.shred_on(epoch) <= today:
                shredded.append(epoch_label(self.rotation, epoch))
                epoch += 1
            if epoch > last and index + 1 < len(self._chains):
                continue  # every epoch of this replaced chain has expired: drop it whole
            if epoch != chain.origin:
                chain.state = _ratchet(chain.state, epoch - chain.origin)
                chain.origin = epoch
            kept.append(chain)
        if shredded:
            self._chains = kept
            self._rings.clear()
            self._save()
        return shredded

    def rotate(self, today: date | None = None) -> str:
        """Start a new random key chain from the current epoch on (e.g. after a key leak).

        Records already made in the current epoch keep the old chain's key until it expires.
        """
        now = _epoch_today(self.rotation, today or today_utc())
        self._chains.append(_Chain(now, now, secrets.token_bytes(32)))
        self._rings.clear()
        self._save()
        return self.ring_for_epoch(now).key_id
