"""The embedded default store: ``DIR/<stream>/<YYYY-MM-DD>.jsonl``, one JSON object a line.

Files are created owner-read/write only. A day's file is deleted once the oldest record it
can hold has reached its stream's retention, so no record is kept longer than its class says:
on day rollover in a running process, and by ``privlog retention sweep DIR`` (e.g. from cron).
"""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson

from .. import _filelock
from .._core.record import EncodedBatch, Output, iso_utc
from .._core.steps import SUBJECT_ATTRIBUTE
from .holdlog import HoldLog, held_records
from .lastvisit import HeldRecords, LastSeenIndex, rewrite, sweep_last_visit

log = logging.getLogger("privlog")

META_FILE = ".privlog-stream.json"
_NS_PER_DAY = 86_400 * 1_000_000_000
_EPOCH_DAY = date(1970, 1, 1)
_DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl")


_MILLIS = tuple(f'.{ms:03d}Z"'.encode() for ms in range(1000))
_stamp_second: tuple[int, bytes] = (-1, b"")  # swapped whole: the writer threads never see a torn pair


def record_line(rec: Output) -> bytes:
    """One record as a JSON object (no newline): its timestamp first, then its attributes."""
    global _stamp_second
    # The timestamp, then the attributes as orjson writes them: no merged dict. The bytes up to
    # the second are made once per second: records come in time order.
    second, rest = divmod(rec.timestamp_ns, 1_000_000_000)
    cached, head = _stamp_second
    if cached != second:
        head = b'{"timestamp":"' + iso_utc(second * 1_000_000_000)[:-5].encode()
        _stamp_second = (second, head)
    attrs = rec.attributes
    if not attrs:
        return head + _MILLIS[rest // 1_000_000] + b"}"
    return head + _MILLIS[rest // 1_000_000] + b"," + orjson.dumps(attrs)[1:]


def _today() -> date:
    return datetime.now(timezone.utc).date()


class JsonlStore:
    """Appends records to per-stream, per-day JSONL files and enforces retention on them.

    It never raises into the application: a store that cannot be written (a read-only mount,
    a full disk, a folder deleted while running) is warned about once, its records are
    counted as lost (:meth:`counts`), and writing resumes by itself once it can. A batch lands
    in a file whole or not at all: a failed append is cut back to where it began.
    """

    name = "jsonl"
    encoding = "jsonl"
    """Takes the compiled path's pre-encoded lines (:meth:`write_encoded`)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        retention_days: Mapping[str, int],
        counted_from: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.retention_days = dict(retention_days)
        #: Streams whose retention counts from each subject's last visit, with their index.
        self.counted_from = dict(counted_from or {})
        self._last_seen: dict[str, LastSeenIndex] = {}
        self._files: dict[str, tuple[date, int]] = {}
        self._paths: dict[tuple[str, date], Path] = {}
        self._swept_on: date | None = None
        self._written = self._lost = 0
        self._failing: str | None = None  # the error while the store cannot be written
        try:
            self._prepare()
            self.sweep()
        except OSError as exc:
            self._failed(exc)

    def _prepare(self) -> None:
        """The store's folders (owner-only) and retention metadata; again if they were deleted."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stream, days in self.retention_days.items():
            sdir = self.directory / stream
            sdir.mkdir(exist_ok=True, mode=0o700)
            # The retention lives beside the files, so `privlog retention sweep DIR` needs no policy.
            meta: dict[str, object] = {"stream": stream, "retention_days": days}
            if self.counted_from.get(stream, "record") != "record":
                meta["from"] = self.counted_from[stream]
                if stream not in self._last_seen:
                    self._last_seen[stream] = LastSeenIndex.load(sdir)
            _write_private(sdir / META_FILE, orjson.dumps(meta))

    def _failed(self, exc: OSError) -> None:
        error = exc.strerror or type(exc).__name__
        if self._failing != error:
            log.warning(
                "privlog: the JSONL store %s cannot be written (%s); requests are served, "
                "records are counted as lost until it can",
                self.directory,
                error,
            )
        self._failing = error

    def counts(self) -> tuple[int, int]:
        """(records written, records lost) since the store was opened."""
        return self._written, self._lost

    def write(self, records: Sequence[Output]) -> None:
        """Append a batch. Records are filed under the UTC day of their timestamp."""
        lines: dict[tuple[str, int], list[bytes]] = {}
        last_seen = self._last_seen
        for rec in records:
            line = record_line(rec)
            key = (rec.stream, rec.timestamp_ns // _NS_PER_DAY)
            if last_seen:
                index = last_seen.get(rec.stream)
                subject = rec.attributes.get(SUBJECT_ATTRIBUTE) if index is not None else None
                if index is not None and isinstance(subject, str):
                    index.note(subject, key[1])
            chunk = lines.get(key)
            if chunk is None:
                lines[key] = [line]
            else:
                chunk.append(line)
        self._file_chunks((s, d, b"\n".join(c) + b"\n", len(c)) for (s, d), c in lines.items())

    def write_encoded(self, batch: EncodedBatch) -> None:
        """Append a batch the compiled path encoded (its lines, grouped as :meth:`write` groups)."""
        last_seen = self._last_seen
        if last_seen:
            for stream, subject, day in batch.subjects():
                index = last_seen.get(stream)
                if index is not None:
                    index.note(subject, day)
        self._file_chunks(batch.jsonl())

    def _file_chunks(self, chunks: Iterable[tuple[str, int, bytes, int]]) -> None:
        """Append each (stream, day since 1970, lines, line count), counting what is lost."""
        today = _today()
        if self._swept_on != today:
            try:
                self.sweep(today)
            except OSError as exc:
                self._failed(exc)
        for stream, day_number, data, n in chunks:
            day = _EPOCH_DAY + timedelta(days=day_number)
            try:
                self._append(stream, day, data)
            except OSError as exc:
                self._lost += n
                self._failed(exc)
            else:
                self._written += n
                if self._failing is not None:
                    log.warning("privlog: the JSONL store %s is written again", self.directory)
                    self._failing = None

    def _append(self, stream: str, day: date, data: bytes) -> None:
        fd = self._file(stream, day)
        # Locked, and re-opened if `privlog subject --delete` replaced the file meanwhile (or
        # it was deleted): appending to a replaced (unlinked) file would lose the records.
        path = self._path(stream, day)
        try:
            _filelock.lock(fd, path)
        except FileNotFoundError:  # the lock-file fallback, in a deleted folder: open it anew
            self._forget(stream)
            fd = self._file(stream, day)
            _filelock.lock(fd, path)
        try:
            held = os.fstat(fd)
            if self._replaced(path, held):
                _filelock.unlock(fd, path)
                self._forget(stream)
                fd = self._file(stream, day)
                _filelock.lock(fd, path)
                held = os.fstat(fd)
            append_whole(fd, data, held.st_size)
        finally:
            _filelock.unlock(fd, path)

    @staticmethod
    def _replaced(path: Path, held: os.stat_result) -> bool:
        try:
            return os.stat(path).st_ino != held.st_ino
        except FileNotFoundError:
            return True

    def _path(self, stream: str, day: date) -> Path:
        # Remembered: building it per batch cost a fifth of the store's time per record.
        key = (stream, day)
        path = self._paths.get(key)
        if path is None:
            if len(self._paths) >= 64:  # a new day: yesterday's paths are not asked for again
                self._paths.clear()
            path = self._paths[key] = self.directory / stream / f"{day.isoformat()}.jsonl"
        return path

    def _forget(self, stream: str) -> None:
        held = self._files.pop(stream, None)
        if held is not None:
            os.close(held[1])

    def _file(self, stream: str, day: date) -> int:
        held = self._files.get(stream)
        if held is not None and held[0] == day:
            return held[1]
        self._forget(stream)
        path = self._path(stream, day)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)  # RDWR: see append_whole
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:  # the store (or the stream's folder) was deleted: recreate it
            self._prepare()
            fd = os.open(path, flags, 0o600)
        self._files[stream] = (day, fd)
        return fd

    def sweep(self, today: date | None = None) -> list[Path]:
        """Delete this store's expired files and records now."""
        today = today or _today()
        self._swept_on = today
        self.flush()  # the sweep reads the last-visit indexes from disk
        deleted = sweep(self.directory, today)
        for stream, index in list(self._last_seen.items()):
            self._last_seen[stream] = LastSeenIndex.load(index.path.parent)
        return deleted

    def housekeeping(self) -> None:
        """Delete expired files once a day, even when no record arrives."""
        today = _today()
        if self._swept_on != today:
            self.sweep(today)

    def flush(self) -> None:
        """Save the last-visit indexes; each batch itself is written before :meth:`write` returns."""
        for index in self._last_seen.values():
            if index.dirty:
                try:
                    index.save()
                except OSError as exc:
                    self._failed(exc)

    def close(self) -> None:
        self.flush()
        for stream in list(self._files):
            self._forget(stream)


def append_whole(fd: int, data: bytes, start: int | None = None) -> None:
    """Append ``data`` to a locked O_APPEND file whole, or not at all.

    On a short or failed write (a full disk, a file size limit) the file is cut back to its
    size before, so a reader never meets a record glued to a cut-off one. A file whose last
    line was cut off by a crash gets a newline first, so the damage stays on its own line.
    """
    if start is None:  # the caller may know it (from the fstat it made under the lock)
        start = os.fstat(fd).st_size
    if start and _byte_at(fd, start - 1) != b"\n":
        data = b"\n" + data
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]
    except OSError:
        try:
            os.ftruncate(fd, start)
        except OSError:
            log.warning("privlog: a failed append could not be cut back; readers skip the damaged line")
        raise


def _byte_at(fd: int, offset: int) -> bytes:
    """One byte of the file. Windows has no ``os.pread``: there, seek and read (the writes of an
    O_APPEND file go to its end wherever the position is, and the lock keeps others out)."""
    pread = getattr(os, "pread", None)
    if pread is not None:
        return bytes(pread(fd, 1, offset))
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, 1)


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


def stream_basis(stream_dir: Path) -> str:
    """Where a stream's retention counts from: ``record`` or ``last_visit`` (its metadata says)."""
    try:
        basis = orjson.loads((stream_dir / META_FILE).read_bytes()).get("from", "record")
    except (OSError, ValueError, AttributeError):
        return "record"
    return basis if basis in ("record", "last_visit") else "record"


def day_files(stream_dir: Path) -> list[tuple[Path, date]]:
    """The day files of a stream folder with their days, oldest first."""
    out = []
    for path in sorted(stream_dir.glob("*.jsonl")):
        match = _DAY_FILE.fullmatch(path.name)
        if match is None:
            continue
        try:
            out.append((path, date.fromisoformat(match.group(1))))
        except ValueError:
            continue
    return out


def sweep(
    directory: str | os.PathLike[str],
    today: date | None = None,
    held: HeldRecords | None = None,
    *,
    dry_run: bool = False,
) -> list[Path]:
    """Delete every record in a store that is past its stream's retention.

    A stream counted from each record's time loses whole day files; one counted from each
    subject's last visit loses the records of subjects who stayed away too long (see
    ``lastvisit.py``). Records under an active legal hold (the store's hold log, or ``held``)
    are kept: a day file holding some is rewritten with only those instead of deleted.
    ``dry_run`` lists the expired day files of streams counted from each record and deletes
    nothing (a last-visit stream's records depend on each subject: not listed).
    """
    today = today or _today()
    root = Path(directory)
    if held is None:
        held = held_records(HoldLog(root).active(today))
    deleted = []
    for sdir, days in stream_dirs(root):
        files = day_files(sdir)
        if stream_basis(sdir) == "last_visit":
            if dry_run:
                continue
            gone, _ = sweep_last_visit(sdir, days, today, files, held)
            deleted.extend(gone)
            continue
        for path, file_day in files:
            if not expired(file_day, days, today):
                continue
            if dry_run:
                deleted.append(path)
                continue
            if held:
                _, emptied = rewrite(path, held.holds)
                if emptied:
                    deleted.append(path)
            else:
                path.unlink(missing_ok=True)
                deleted.append(path)
    return deleted
