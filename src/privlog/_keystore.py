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
import binascii
import errno
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ._errors import PolicyError, did_you_mean
from ._keys import KeyRing, derive, key_id_of

ROTATIONS = ("never", "daily", "weekly", "monthly")
STORE_FILE = "keys.json"
_DAY_NS = 86_400 * 1_000_000_000
_EPOCH_DATE = date(1970, 1, 1)
_RING_CACHE = 8
_CHAIN_ID = re.compile(r"[0-9a-z]{1,16}")
_T = TypeVar("_T")

log = logging.getLogger("privlog")


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


def _legacy_chain_id(from_epoch: int, nth: int) -> str:
    """The id of a chain written before chains had one: stable, as ``from_epoch`` never changes."""
    return hashlib.blake2b(f"privlog chain {from_epoch} {nth}".encode(), digest_size=2).hexdigest()


def _new_chain_id(chains: list[_Chain]) -> str:
    taken = {c.id for c in chains}
    while True:
        chain_id = secrets.token_hex(2)
        if chain_id not in taken:
            return chain_id


def _damaged(path: Path) -> PolicyError:
    return PolicyError(
        "secret.store", f"the key store at {path} cannot be read", "restore it from the host copy"
    )


def _parse(raw: bytes, path: Path) -> tuple[str, int, list[_Chain]]:
    """Rotation, retention and chains of a store file. Errors never quote the file's content."""
    try:
        data = orjson.loads(raw)
        rotation, days = str(data["rotation"]), int(data["retention_days"])
        chains: list[_Chain] = []
        legacy: dict[int, int] = {}
        for c in data["chains"]:
            from_epoch = int(c["from_epoch"])
            chain_id = c.get("id")
            if chain_id is None:
                nth = legacy[from_epoch] = legacy.get(from_epoch, -1) + 1
                chain_id = _legacy_chain_id(from_epoch, nth)
            state = base64.b64decode(c["state"], validate=True)
            if not isinstance(chain_id, str) or not _CHAIN_ID.fullmatch(chain_id) or len(state) != 32:
                raise ValueError("bad chain")
            chains.append(_Chain(chain_id, from_epoch, int(c["origin_epoch"]), state))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise _damaged(path) from None
    if rotation not in ROTATIONS:
        raise PolicyError("secret.store", f"unknown rotation in {path}", "recreate the store")
    if days <= 0 or not chains:
        raise _damaged(path)
    return rotation, days, chains


def _dump(rotation: str, retention_days: int, chains: list[_Chain]) -> bytes:
    return orjson.dumps(
        {
            "version": 1,
            "rotation": rotation,
            "retention_days": retention_days,
            "chains": [c.to_json() for c in chains],
        }
    )


def _read_fd(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    parts = []
    while chunk := os.read(fd, 65536):
        parts.append(chunk)
    return b"".join(parts)


def _overwrite(fd: int, data: bytes) -> None:
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


def _file_version(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _last_epoch(chains: list[_Chain], index: int, now: int) -> int:
    # A chain replaced by `rotate` still made the records of the epoch it was replaced in.
    return chains[index + 1].from_epoch if index + 1 < len(chains) else now


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

    The file is the source of truth. Every change (``shred``, ``rotate``) re-reads it under an
    exclusive lock, applies the change to what it read and writes it back, so processes sharing
    a store never undo each other's rotations or bring back shredded keys. A running process
    re-reads the store and shreds expired keys once per real (UTC) day, see ``housekeeping``.
    """

    def __init__(
        self, path: Path, rotation: str, retention_days: int, chains: list[_Chain], algorithm: str = "blake2b"
    ) -> None:
        self.path = path
        self.rotation = rotation
        self.retention_days = retention_days
        self._chains = chains
        self._algorithm = algorithm
        self._rings: dict[tuple[str, int, int], KeyRing] = {}
        self._checked: date | None = None  # real UTC date of the last housekeeping
        self._seen_day: int | None = None  # day (since 1970) of the last record timestamp seen
        self._version: tuple[int, int, int, int] | None = None  # the store file as last read
        self._lock = threading.RLock()

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
        exists = PolicyError(
            str(path / STORE_FILE),
            "a key store already exists here",
            "use `privlog keys rotate` or another directory",
        )
        if (path / STORE_FILE).exists():
            raise exists
        now = _epoch_today(rotation, today or today_utc())
        chains = [_Chain(secrets.token_hex(2), now, now, secrets.token_bytes(32))]
        store = cls(path / STORE_FILE, rotation, retention_days, chains)
        try:
            fd = os.open(store.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise exists from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _overwrite(fd, _dump(rotation, retention_days, chains))
            store._version = _file_version(os.fstat(fd))
        finally:
            os.close(fd)
        return store

    @classmethod
    def load(cls, directory: str | os.PathLike[str], algorithm: str = "blake2b") -> KeyStore:
        """Open an existing store; a missing or damaged store is a start-up error."""
        path = Path(directory) / STORE_FILE
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise PolicyError(
                "secret.store", f"no key store at {path}", "create one with `privlog keys init DIR`"
            ) from None
        except OSError:
            raise _damaged(path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # a writer overwrites in place: never read half of it
            raw = _read_fd(fd)
            version = _file_version(os.fstat(fd))
        except OSError:
            raise _damaged(path) from None
        finally:
            os.close(fd)
        rotation, days, chains = _parse(raw, path)
        store = cls(path, rotation, days, chains, algorithm)
        store._version = version
        return store

    def _merge(self, disk: list[_Chain]) -> list[_Chain]:
        """The chains to work on: the file's, except where this process has shredded further.

        A chain the file no longer has stays dropped; a chain only the file has (a rotation by
        another process) is taken; where the file's ratchet is behind this process's (a store
        restored from a copy), the further-ratcheted state is kept, so no shredded key returns.
        """
        mine = {(c.id, c.from_epoch): c for c in self._chains}
        out = []
        for chain in disk:
            held = mine.get((chain.id, chain.from_epoch))
            if (
                held is not None
                and held.origin > chain.origin
                and hmac.compare_digest(_ratchet(chain.state, held.origin - chain.origin), held.state)
            ):
                chain = replace(held)
            out.append(chain)
        return out

    def _transact(
        self, change: Callable[[list[_Chain]], tuple[list[_Chain], _T]], keep_unwritten: bool = False
    ) -> _T:
        """Read-modify-write of the store file under an exclusive lock.

        A store this process may only read (a read-only mount) is still re-read; if the change
        cannot be written, the error is raised, after taking it in memory if ``keep_unwritten``.
        """
        with self._lock:
            denied: OSError | None = None
            try:
                fd = os.open(self.path, os.O_RDWR)
            except FileNotFoundError:
                raise PolicyError(
                    "secret.store", f"no key store at {self.path}", "restore it from the host copy"
                ) from None
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                    raise
                denied = exc
                fd = os.open(self.path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH if denied else fcntl.LOCK_EX)
                raw = _read_fd(fd)
                rotation, days, disk = _parse(raw, self.path)
                self.rotation, self.retention_days = rotation, days
                chains, result = change(self._merge(disk))
                data = _dump(rotation, days, chains)
                if data != raw:
                    if denied is not None and not keep_unwritten:
                        raise denied
                    if denied is None:
                        _overwrite(fd, data)
                self._chains = chains
                self._rings.clear()
                self._version = _file_version(os.fstat(fd))
            finally:
                os.close(fd)
            if denied is not None and data != raw:
                raise denied
            return result

    def _changed_on_disk(self) -> bool:
        try:
            return _file_version(os.stat(self.path)) != self._version
        except OSError:
            return False  # the daily check reports a missing store

    # -- keys -------------------------------------------------------------------------------
    def _ring(self, chain: _Chain, epoch: int) -> KeyRing:
        ring = self._rings.get((chain.id, chain.from_epoch, epoch))
        if ring is not None:
            return ring
        if epoch < chain.origin:
            raise KeyShredded(f"the key of epoch {epoch_label(self.rotation, epoch)} was shredded")
        master = derive(_ratchet(chain.state, epoch - chain.origin), "privlog epoch key")
        label = epoch_label(self.rotation, epoch)
        ring = KeyRing(master, self._algorithm, key_id_of(master, f"{label}.{chain.id}"))
        if len(self._rings) >= _RING_CACHE:
            self._rings.clear()
        self._rings[(chain.id, chain.from_epoch, epoch)] = ring
        return ring

    def ring_for_epoch(self, epoch: int) -> KeyRing:
        """The ring new records of ``epoch`` use: the newest chain that covers it."""
        chains = self._chains
        for chain in reversed(chains):
            if epoch >= chain.from_epoch:
                return self._ring(chain, epoch)
        raise KeyShredded(f"no key for epoch {epoch_label(self.rotation, epoch)}")

    def ring_for(self, ts_ns: int) -> KeyRing:
        """The ring of a record's epoch; ``KeyShredded`` if that key is gone.

        The timestamp only hints that a new day may have begun: housekeeping (re-reading the
        store, shredding expired keys) then runs by the real clock, at most once per real day,
        so a record from the future cannot shred the keys in use.
        """
        day = ts_ns // _DAY_NS
        if day != self._seen_day:
            self._seen_day = day
            try:
                self.housekeeping()
            except (OSError, PolicyError) as exc:
                log.warning(
                    "privlog: key store housekeeping failed (%s); expired keys were shredded in memory only",
                    type(exc).__name__,
                )
        return self.ring_for_epoch(epoch_of(self.rotation, ts_ns))

    def housekeeping(self, today: date | None = None) -> list[str]:
        """Re-read the store and shred expired keys, if the real date changed since the last
        check (or the store file changed, e.g. by ``privlog keys rotate``). Cheap otherwise: call
        it on a timer. Returns the labels of the keys shredded."""
        today = today or today_utc()
        if today == self._checked and not self._changed_on_disk():
            return []
        return self.shred(today)

    def shred_on(self, epoch: int) -> date:
        """The day an epoch's key is destroyed: when its last record has expired."""
        end = epoch_end(self.rotation, epoch)
        return date.max if end == date.max else end + timedelta(days=self.retention_days)

    def held(self, today: date | None = None) -> list[HeldEpoch]:
        """Every (chain, epoch) key still held, oldest first, up to the current epoch."""
        now = _epoch_today(self.rotation, today or today_utc())
        chains = self._chains
        out = []
        for index, chain in enumerate(chains):
            for epoch in range(chain.origin, _last_epoch(chains, index, now) + 1):
                ring = self._ring(chain, epoch)
                out.append(
                    HeldEpoch(
                        epoch, epoch_label(self.rotation, epoch), ring.key_id, self.shred_on(epoch), ring
                    )
                )
        return out

    def _shred_chains(self, chains: list[_Chain], today: date) -> tuple[list[_Chain], list[str]]:
        now = _epoch_today(self.rotation, today)
        shredded: list[str] = []
        kept: list[_Chain] = []
        for index, chain in enumerate(chains):
            last = _last_epoch(chains, index, now)
            epoch = chain.origin
            while epoch <= last and self.shred_on(epoch) <= today:
                shredded.append(epoch_label(self.rotation, epoch))
                epoch += 1
            if epoch > last and index + 1 < len(chains):
                continue  # every epoch of this replaced chain has expired: drop it whole
            if epoch != chain.origin:
                chain.state = _ratchet(chain.state, epoch - chain.origin)
                chain.origin = epoch
            kept.append(chain)
        return kept, shredded

    def shred(self, today: date | None = None) -> list[str]:
        """Re-read the store and destroy every key whose epoch's records have all expired.

        Returns their labels. If the store cannot be read or written, the keys are still
        destroyed in this process's memory, and the error is raised.
        """
        today = today or today_utc()
        with self._lock:
            self._checked = today
            try:
                return self._transact(lambda chains: self._shred_chains(chains, today), keep_unwritten=True)
            except (OSError, PolicyError):
                self._chains, _ = self._shred_chains([replace(c) for c in self._chains], today)
                self._rings.clear()
                raise

    def rotate(self, today: date | None = None) -> str:
        """Start a new random key chain from the current epoch on (e.g. after a key leak).

        Records already made in the current epoch keep the old chain's key until it expires.
        Running processes using the store take the new chain at their next housekeeping.
        """
        day = today or today_utc()

        def add(chains: list[_Chain]) -> tuple[list[_Chain], int]:
            now = _epoch_today(self.rotation, day)
            chains.append(_Chain(_new_chain_id(chains), now, now, secrets.token_bytes(32)))
            return chains, now

        return self.ring_for_epoch(self._transact(add)).key_id
