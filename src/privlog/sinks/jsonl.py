"""The embedded default store: ``DIR/<stream>/<YYYY-MM-DD>.jsonl``, one JSON object a line.

Files are created owner-read/write only. A day's file is deleted once the oldest record it
can hold has reached its stream's retention, so no record is kept longer than its class says:
on day rollover in a running process, and by ``privlog retention sweep DIR`` (e.g. from cron).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import orjson

from .._core.record import Output, iso_utc

log = logging.getLogger("privlog")

META_FILE = ".privlog-stream.json"
_NS_PER_DAY = 86_400 * 1_000_000_000
_EPOCH_DAY = date(1970, 1, 1)
_DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl")


def record_line(rec: Output) -> bytes:
    """One record as a JSON object (no newline): its timestamp first, then its attributes."""
    attrs = rec.attributes
    # The timestamp, then the attributes as orjson writes them: no merged dict.
    stamp = b'{"timestamp":"' + iso_utc(rec.timestamp_ns).encode() + b'"'
    return stamp + b"," + orjson.dumps(attrs)[1:] if attrs else stamp + b"}"


def _today() -> date:
    return datetime.now(timezone.utc).date()


class JsonlStore:
    """Appends records to per-stream, per-day JSONL files and enforces retention on them."""

    def __init__(self, directory: str | os.PathLike[str], retention_days: Mapping[str, int]) -> None:
        self.directory = Path(directory)
        self.retention_days = dict(retention_days)
        self._files: dict[str, tuple[date, IO[bytes]]] = {}
        self._swept_on: date | None = None
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stream, days in self.retention_days.items():
            sdir = self.directory / stream
            sdir.mkdir(exist_ok=True, mode=0o700)
            # The retention lives beside the files, so `privlog retention sweep DIR` needs no policy.
            _write_private(sdir / META_FILE, orjson.dumps({"stream": stream, "retention_days": days}))
        self.sweep()

    def write(self, records: Sequence[Output]) -> None:
        """Append a batch. Records are filed under the UTC day of their timestamp."""
        lines: dict[tuple[str, int], list[bytes]] = {}
        for rec in records:
            line = record_line(rec)
            key = (rec.stream, rec.timestamp_ns // _NS_PER_DAY)
            chunk = lines.get(key)
            if chunk is None:
                lines[key] = [line]
            else:
                chunk.append(line)
        today = _today()
        if self._swept_on != today:
            self.sweep(today)
        for (stream, day_number), chunk in lines.items():
            day = _EPOCH_DAY + timedelta(days=day_number)
            fh = self._file(stream, day)
            # Locked, and re-opened if `privlog subject --delete` replaced the file meanwhile:
            # appending to a replaced (unlinked) file would lose the records.
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                if self._replaced(stream, day, fh):
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                    self._files.pop(stream)[1].close()
                    fh = self._file(stream, day)
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                fh.write(b"\n".join(chunk) + b"\n")
                fh.flush()
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _replaced(self, stream: str, day: date, fh: IO[bytes]) -> bool:
        try:
            return os.stat(self._path(stream, day)).st_ino != os.fstat(fh.fileno()).st_ino
        except FileNotFoundError:
            return True

    def _path(self, stream: str, day: date) -> Path:
        return self.directory / stream / f"{day.isoformat()}.jsonl"

    def _file(self, stream: str, day: date) -> IO[bytes]:
        held = self._files.get(stream)
        if held is not None and held[0] == day:
            return held[1]
        if held is not None:
            held[1].close()
        path = self._path(stream, day)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fh = os.fdopen(fd, "ab")
        self._files[stream] = (day, fh)
        return fh

    def sweep(self, today: date | None = None) -> list[Path]:
        """Delete this store's expired files now."""
        today = today or _today()
        self._swept_on = today
        return sweep(self.directory, today)

    def housekeeping(self) -> None:
        """Delete expired files once a day, even when no record arrives."""
        today = _today()
        if self._swept_on != today:
            self.sweep(today)

    def flush(self) -> None:
        for _, fh in self._files.values():
            fh.flush()

    def close(self) -> None:
        for _, fh in self._files.values():
            fh.close()
        self._files.clear()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def stream_dirs(directory: Path) -> Iterator[tuple[Path, int]]:
    """Each stream folder of a store with its retention in days."""
    if not directory.is_dir():
        return
    for meta in sorted(directory.glob(f"*/{META_FILE}")):
        try:
            days = int(orjson.loads(meta.read_bytes())["retention_days"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("privlog: unreadable stream metadata %s; its files are left alone", meta)
            continue
        yield meta.parent, days


def expired(file_day: date, days: int, today: date) -> bool:
    """A day file is expired once its first possible record is ``days`` old."""
    return file_day + timedelta(days=days) <= today


def sweep(directory: str | os.PathLike[str], today: date | None = None) -> list[Path]:
    """Delete every day file in a store whose records are past their stream's retention."""
    today = today or _today()
    deleted = []
    for sdir, days in stream_dirs(Path(directory)):
        for path in sorted(sdir.glob("*.jsonl")):
            match = _DAY_FILE.fullmatch(path.name)
            if match is None:
                continue
            try:
                file_day = date.fromisoformat(match.group(1))
            except ValueError:
                continue
            if expired(file_day, days, today):
                path.unlink(missing_ok=True)
                deleted.append(path)
    return deleted


Record = dict[str, Any]
"""One stored record, as read back from its line."""


def _store_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*/*.jsonl"))


def count_records(directory: Path, selected: Callable[[Record], bool]) -> dict[Path, int]:
    """How many records of each day file ``selected`` picks."""
    found: dict[Path, int] = {}
    for path in _store_files(directory):
        n = sum(1 for line in path.read_bytes().splitlines() if line and selected(orjson.loads(line)))
        if n:
            found[path] = n
    return found


def delete_records(directory: Path, selected: Callable[[Record], bool]) -> dict[Path, int]:
    """Remove the records ``selected`` picks from every day file, atomically and owner-only.

    Each file is rewritten under the same lock a running store appends with, so no record
    written meanwhile is lost (the store re-opens a file that was replaced).
    """
    deleted: dict[Path, int] = {}
    for path in _store_files(directory):
        with open(path, "rb") as locked:
            fcntl.flock(locked.fileno(), fcntl.LOCK_EX)
            lines = locked.read().splitlines()
            keep = [line for line in lines if line and not selected(orjson.loads(line))]
            removed = sum(1 for line in lines if line) - len(keep)
            if not removed:
                continue
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rewrite-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"".join(line + b"\n" for line in keep))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
            deleted[path] = removed
    return deleted
