"""The key store that destroys expired keys (crypto-shredding); epochs are in ``epochs.py``,
the file format and its locked reads and writes in ``storefile.py``, the files beside it
(legal holds, the subject key) in ``sidefiles.py``.

Keys rotate by epoch (never, daily, weekly, monthly), computed from the record's timestamp,
so every process and host holding the same store derives the same key for the same epoch
without talking to the others. The store keeps one *ratchet state* per key chain: the key of
epoch ``e`` comes from ``H^(e - origin)(state)``, and shredding replaces the state by its
hash. Because the ratchet is one-way, the keys of epochs before the new origin can no longer
be computed from anything on disk. See docs/keys.md for the threat model.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

from .. import _filelock
from .._errors import ConfigurationError, did_you_mean
from .epochs import (
    DAY_NS,
    EPOCH_DATE,
    MAX_RETENTION_DAYS,
    RING_CACHE,
    ROTATIONS,
    KeyShredded,
    epoch_end,
    epoch_label,
    epoch_of,
    epoch_today,
    ratchet,
    today_utc,
)
from .private import check_private
from .ring import KeyRing, derive, key_id_of
from .sidefiles import HELD_KEYS_FILE as HELD_KEYS_FILE
from .sidefiles import SUBJECT_KEY_FILE as SUBJECT_KEY_FILE
from .sidefiles import open_subject_ring, read_held_keys
from .storefile import (
    Chain,
    chain_epochs,
    damaged,
    dump_store,
    file_version,
    last_epoch,
    merge_chains,
    new_chain_id,
    overwrite,
    parse_store,
    read_fd,
)

STORE_FILE = "keys.json"
CLOCK_SKEW_NS = DAY_NS
"""How far behind a store's first epoch a record may be and still get its first key: a store
made on a host whose clock ran up to a day ahead still keys today's records. Further behind,
keyed streams skip the record, and it is counted (``Stats.unkeyed``) and warned about."""
_T = TypeVar("_T")

log = logging.getLogger("privlog")


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
        self, path: Path, rotation: str, retention_days: int, chains: list[Chain], algorithm: str = "blake2b"
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
        self._subject: KeyRing | None = None
        #: Changes whenever the chains change (a shred, a rotation): holders of copies of its
        #: keys (the compiled batch path) drop and wipe them then.
        self.generation = 0

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
            raise ConfigurationError("rotation", f"unknown rotation {rotation!r}", did_you_mean(rotation, ROTATIONS))
        if isinstance(retention_days, bool) or not 0 < retention_days <= MAX_RETENTION_DAYS:
            raise ConfigurationError(
                "retention_days",
                f"must be a positive number of days (at most {MAX_RETENTION_DAYS})",
                "use your longest keyed stream's retention",
            )
        path = Path(directory)
        exists = ConfigurationError(
            str(path / STORE_FILE),
            "a key store already exists here",
            "use `privlog keys rotate` or another directory",
        )
        if (path / STORE_FILE).exists():
            raise exists  # before touching the folder: a refusal changes nothing
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
        now = epoch_today(rotation, today or today_utc())
        chains = [Chain(secrets.token_hex(2), now, now, secrets.token_bytes(32))]
        store = cls(path / STORE_FILE, rotation, retention_days, chains)
        try:
            fd = os.open(store.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise exists from None
        try:
            _filelock.lock(fd, store.path)
            try:
                overwrite(fd, dump_store(rotation, retention_days, chains))
                store._version = file_version(os.fstat(fd))
            finally:
                _filelock.unlock(fd, store.path)
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
            raise ConfigurationError(
                "secret.store", f"no key store at {path}", "create one with `privlog keys init DIR`"
            ) from None
        except OSError:
            raise damaged(path) from None
        try:
            check_private(path.parent, "secret.store", folder=True)
            check_private(path, "secret.store")
        except ConfigurationError:
            os.close(fd)
            raise
        try:
            _filelock.lock(fd, path, shared=True)  # a writer overwrites in place: never read half of it
            try:
                raw = read_fd(fd)
                version = file_version(os.fstat(fd))
            finally:
                _filelock.unlock(fd, path)
        except OSError:
            raise damaged(path) from None
        finally:
            os.close(fd)
        rotation, days, chains = parse_store(raw, path)
        store = cls(path, rotation, days, chains, algorithm)
        store._version = version
        return store

    def _transact(
        self, change: Callable[[list[Chain]], tuple[list[Chain], _T]], keep_unwritten: bool = False
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
                raise ConfigurationError(
                    "secret.store", f"no key store at {self.path}", "restore it from the host copy"
                ) from None
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                    raise
                denied = exc
                fd = os.open(self.path, os.O_RDONLY)
            try:
                _filelock.lock(fd, self.path, shared=denied is not None)
            except BaseException:
                os.close(fd)
                raise
            try:
                raw = read_fd(fd)
                rotation, days, disk = parse_store(raw, self.path)
                self.rotation, self.retention_days = rotation, days
                chains, result = change(merge_chains(self._chains, disk))
                data = dump_store(rotation, days, chains)
                if data != raw:
                    if denied is not None and not keep_unwritten:
                        raise denied
                    if denied is None:
                        overwrite(fd, data)
                if chain_epochs(chains) != chain_epochs(self._chains):
                    self.generation += 1  # a key was shredded or a chain added
                self._chains = chains
                self._rings.clear()
                self._version = file_version(os.fstat(fd))
            finally:
                _filelock.unlock(fd, self.path)
                os.close(fd)
            if denied is not None and data != raw:
                raise denied
            return result

    def _changed_on_disk(self) -> bool:
        try:
            return file_version(os.stat(self.path)) != self._version
        except OSError:
            return False  # the daily check reports a missing store

    # -- keys -------------------------------------------------------------------------------
    def _ring(self, chain: Chain, epoch: int) -> KeyRing:
        ring = self._rings.get((chain.id, chain.from_epoch, epoch))
        if ring is not None:
            return ring
        if epoch < chain.origin:
            raise KeyShredded(f"the key of epoch {epoch_label(self.rotation, epoch)} was shredded")
        master = derive(ratchet(chain.state, epoch - chain.origin), "privlog epoch key")
        label = epoch_label(self.rotation, epoch)
        ring = KeyRing(master, self._algorithm, key_id_of(master, f"{label}.{chain.id}"))
        if len(self._rings) >= RING_CACHE:
            self._rings.clear()
        self._rings[(chain.id, chain.from_epoch, epoch)] = ring
        return ring

    def ring_for_epoch(self, epoch: int) -> KeyRing:
        """The ring new records of ``epoch`` use: the newest chain that covers it."""
        chains = self._chains
        for chain in reversed(chains):
            if epoch >= chain.from_epoch:
                return self._ring(chain, epoch)
        first = epoch_label(self.rotation, chains[0].from_epoch) if chains else "none"
        raise KeyShredded(
            f"no key for epoch {epoch_label(self.rotation, epoch)}: the key store starts at {first}"
        )

    def ring_for(self, ts_ns: int) -> KeyRing:
        """The ring of a record's epoch; ``KeyShredded`` if that key is gone.

        The timestamp only hints that a new day may have begun: housekeeping (re-reading the
        store, shredding expired keys) then runs by the real clock, at most once per real day,
        so a record from the future cannot shred the keys in use.
        """
        day = ts_ns // DAY_NS
        if day != self._seen_day:
            self._seen_day = day
            try:
                self.housekeeping()
            except (OSError, ConfigurationError) as exc:
                log.warning(
                    "privlog: key store housekeeping failed (%s); expired keys were shredded in memory only",
                    type(exc).__name__,
                )
        checked = self._checked
        if checked is not None and day > (checked - EPOCH_DATE).days + 2:
            # Far ahead of the real clock: deriving its key would ratchet once per epoch ahead,
            # and a correct clock never asks for it. Keyed streams skip such a record.
            raise KeyShredded("the record's timestamp is in the future")
        epoch = epoch_of(self.rotation, ts_ns)
        chains = self._chains
        if chains and epoch < chains[0].from_epoch:
            first = chains[0].from_epoch  # tolerated clock skew: the first key covers the day before it
            if epoch_of(self.rotation, ts_ns + CLOCK_SKEW_NS) >= first:
                epoch = first
        return self.ring_for_epoch(epoch)

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

    def subject_ring(self) -> KeyRing:
        """The ring of last-visit subjects, from ``subject.key`` beside the store (made on first use)."""
        with self._lock:
            if self._subject is None:
                self._subject = open_subject_ring(self.path, self._algorithm)
            return self._subject

    def held(self, today: date | None = None) -> list[HeldEpoch]:
        """Every (chain, epoch) key still held, oldest first, up to the current epoch."""
        now = epoch_today(self.rotation, today or today_utc())
        chains = self._chains
        out = []
        for index, chain in enumerate(chains):
            for epoch in range(chain.origin, last_epoch(chains, index, now) + 1):
                ring = self._ring(chain, epoch)
                out.append(
                    HeldEpoch(
                        epoch, epoch_label(self.rotation, epoch), ring.key_id, self.shred_on(epoch), ring
                    )
                )
        return out

    def held_keys(self, today: date) -> frozenset[str]:
        """Key ids an active legal hold keeps (``held-keys.json`` beside the store)."""
        return read_held_keys(self.path, today)

    def _shred_chains(self, chains: list[Chain], today: date) -> tuple[list[Chain], list[str]]:
        now = epoch_today(self.rotation, today)
        held = self.held_keys(today)
        shredded: list[str] = []
        kept: list[Chain] = []
        for index, chain in enumerate(chains):
            last = last_epoch(chains, index, now)
            epoch = chain.origin
            # A ratchet only moves forward: keeping a held epoch's key keeps every later one too.
            while epoch <= last and self.shred_on(epoch) <= today and not (held and self._is_held(chain, epoch, held)):
                shredded.append(epoch_label(self.rotation, epoch))
                epoch += 1
            if epoch > last and index + 1 < len(chains):
                continue  # every epoch of this replaced chain has expired: drop it whole
            if epoch != chain.origin:
                chain.state = ratchet(chain.state, epoch - chain.origin)
                chain.origin = epoch
            kept.append(chain)
        return kept, shredded

    def _is_held(self, chain: Chain, epoch: int, held: frozenset[str]) -> bool:
        master = derive(ratchet(chain.state, epoch - chain.origin), "privlog epoch key")
        return key_id_of(master, f"{epoch_label(self.rotation, epoch)}.{chain.id}") in held

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
            except (OSError, ConfigurationError):
                self._chains, _ = self._shred_chains([replace(c) for c in self._chains], today)
                self._rings.clear()
                self.generation += 1
                raise

    def rotate(self, today: date | None = None) -> str:
        """Start a new random key chain from the current epoch on (e.g. after a key leak).

        Records already made in the current epoch keep the old chain's key until it expires.
        Running processes using the store take the new chain at their next housekeeping.
        """
        day = today or today_utc()

        def add(chains: list[Chain]) -> tuple[list[Chain], int]:
            now = epoch_today(self.rotation, day)
            chains.append(Chain(new_chain_id(chains), now, now, secrets.token_bytes(32)))
            return chains, now

        return self.ring_for_epoch(self._transact(add)).key_id
