"""Retention counted from each subject's last visit, in the JSONL store.

A stream whose retention class says ``from = "last_visit"`` keeps a subject's records until
``days`` after that subject's last record, so a returning visitor keeps their history and one
who stays away loses all of it. The store keeps a compact index per stream (subject pseudonym
-> last day seen, owner-only) and the sweep deletes the records of subjects whose last visit is
too old; records without a subject expire by their own day. Subjects under a legal hold are
kept. Files are read line by line and rewritten under the store's lock, never held whole in
memory: memory is bounded by the index.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path

import orjson

from .. import _filelock
from .._core.steps import SUBJECT_ATTRIBUTE

INDEX_FILE = ".privlog-last-seen.json"
KeepLine = Callable[[bytes], bool]
"""Decides whether a stored line stays."""
_EPOCH_DAY = date(1970, 1, 1)
_SUBJECT = b'"' + SUBJECT_ATTRIBUTE.encode() + b'":"'


def subject_of(line: bytes) -> bytes | None:
    """The subject pseudonym of a stored line, found without parsing the JSON: pseudonyms are
    URL-safe base64, so the value needs no unescaping."""
    start = line.find(_SUBJECT)
    if start < 0:
        return None
    start += len(_SUBJECT)
    end = line.find(b'"', start)
    return line[start:end] if end > start else None


class LastSeenIndex:
    """Subject pseudonym -> the last day (days since 1970) a record of it was stored."""

    def __init__(self, path: Path, days: dict[str, int] | None = None) -> None:
        self.path = path
        self.days: dict[str, int] = days or {}
        self.dirty = False

    @classmethod
    def load(cls, stream_dir: Path) -> LastSeenIndex:
        path = stream_dir / INDEX_FILE
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return cls(path)
        except (OSError, orjson.JSONDecodeError):
            return cls(path)  # rebuilt from the stored records by the next sweep
        days = {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}
        return cls(path, days)

    def note(self, subject: str, day: int) -> None:
        if self.days.get(subject, -1) < day:
            self.days[subject] = day
            self.dirty = True

    def save(self) -> None:
        """Write the index atomically, owner-only."""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".last-seen-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(self.days))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self.dirty = False


def day_number(day: date) -> int:
    return (day - _EPOCH_DAY).days


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        for line in fh:
            line = line.rstrip(b"\n")
            if line:
                yield line


def sweep_last_visit(
    stream_dir: Path,
    days: int,
    today: date,
    files: Iterable[tuple[Path, date]],
    held: HeldRecords | None = None,
) -> tuple[list[Path], int]:
    """Delete the records of subjects whose last visit is ``days`` or more ago, and records
    without a subject older than ``days``. Returns the files deleted and the records removed.

    First every record's subject is noted in the index (the index may miss the last seconds
    before a crash; the records themselves are the truth), then each file is rewritten without
    the expired records.
    """
    index = LastSeenIndex.load(stream_dir)
    day_files = sorted(files, key=lambda item: item[1])
    for path, file_day in day_files:
        n = day_number(file_day)
        for line in _lines(path):
            subject = subject_of(line)
            if subject is not None:
                index.note(subject.decode("ascii", "replace"), n)
    cutoff = day_number(today) - days  # a subject last seen on this day or before has expired
    expired = {s for s, last in index.days.items() if last <= cutoff}
    deleted: list[Path] = []
    removed = 0
    for path, file_day in day_files:
        old_file = day_number(file_day) <= cutoff

        def keep(line: bytes, old_file: bool = old_file) -> bool:
            if held is not None and held.holds(line):
                return True
            subject = subject_of(line)
            if subject is None:
                return not old_file
            return subject.decode("ascii", "replace") not in expired

        gone, now_empty = rewrite(path, keep)
        removed += gone
        if now_empty:
            deleted.append(path)
    kept_by_hold = held.subjects if held is not None else frozenset()
    for gone_subject in expired - kept_by_hold:
        del index.days[gone_subject]
        index.dirty = True
    if index.dirty:
        index.save()
    return deleted, removed


def rewrite(path: Path, keep: KeepLine) -> tuple[int, bool]:
    """Rewrite ``path`` with only the lines ``keep`` accepts, under the store's lock, streaming.

    Returns (lines removed, file deleted because nothing was kept). A running store that
    appends meanwhile waits for the lock and re-opens the replaced file.
    """
    with open(path, "rb") as locked:
        _filelock.lock(locked.fileno(), path)
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rewrite-")
            kept = removed = 0
            try:
                with os.fdopen(fd, "wb") as out:
                    for line in locked:
                        body = line.rstrip(b"\n")
                        if not body:
                            continue
                        if keep(body):
                            out.write(body + b"\n")
                            kept += 1
                        else:
                            removed += 1
                if not removed:
                    os.unlink(tmp)
                    return 0, False
                if not kept:
                    os.unlink(tmp)
                    path.unlink()
                    return removed, True
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
                return removed, False
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        finally:
            _filelock.unlock(locked.fileno(), path)


class HeldRecords:
    """What legal holds keep: records carrying one of the held pseudonyms or subjects."""

    def __init__(self, pairs: Iterable[tuple[str, str]], subjects: Iterable[str]) -> None:
        self.subjects = frozenset(subjects)
        self._pairs = frozenset(pairs)
        self._needles = tuple(
            {orjson.dumps(attribute) + b":" + orjson.dumps(value) for attribute, value in pairs}
            | {_SUBJECT + s.encode() + b'"' for s in self.subjects}
        )

    def __bool__(self) -> bool:
        return bool(self._needles)

    def holds(self, line: bytes) -> bool:
        """True for a stored line that a hold keeps."""
        return any(needle in line for needle in self._needles)

    def holds_record(self, record: Mapping[str, object]) -> bool:
        """True for a parsed record that a hold keeps."""
        if record.get(SUBJECT_ATTRIBUTE) in self.subjects:
            return True
        return any(record.get(attribute) == value for attribute, value in self._pairs)

