"""Reading a JSONL store back, for data-subject requests: count or delete the records a test picks.

Each day file is streamed a line at a time (memory stays one line whatever its size); a
deletion rewrites a file into a private copy under the lock the running store appends with,
and puts it in place atomically. Damaged lines (cut off by a full disk or a crash) are
skipped and reported, never a reason to fail.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from .. import _filelock

Record = dict[str, Any]
"""One stored record, as read back from its line."""


@dataclass(frozen=True)
class Scan:
    """What a reader did per day file: records it picked (found or deleted), and damaged
    lines (cut off by a full disk or a crash) it could not read and skipped."""

    records: dict[Path, int]
    damaged: dict[Path, int]


def store_files(directory: Path) -> list[Path]:
    """Every day file of a store."""
    return sorted(directory.glob("*/*.jsonl"))


Progress = Callable[[int], None]
"""Told how many more bytes of the store were read, for a progress display."""


def parse_line(line: bytes) -> Record | None:
    """The record on a line, or None for a damaged line (never raises)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def count_records(
    directory: Path, selected: Callable[[Record], bool], progress: Progress | None = None
) -> Scan:
    """How many records of each day file ``selected`` picks; damaged lines are skipped. Files
    are read a line at a time, so memory stays one line whatever their size."""

    def count(path: Path) -> tuple[int, int]:
        n = bad = 0
        with open(path, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                record = parse_line(line)
                if record is None:
                    bad += 1
                elif selected(record):
                    n += 1
            if progress is not None:
                progress(fh.tell())
        return n, bad

    return _each_file(directory, count)


def delete_records(
    directory: Path,
    selected: Callable[[Record], bool],
    selected_raw: Callable[[bytes], bool] | None = None,
    progress: Progress | None = None,
) -> Scan:
    """Remove the records ``selected`` picks from every day file, atomically and owner-only.

    A damaged line is removed too when ``selected_raw`` finds the subject in its bytes, and
    kept (and reported) otherwise. Each file is streamed, a line at a time, into a private copy
    under the same lock a running store appends with, so no record written meanwhile is lost
    (the store re-opens a replaced file).
    """

    def delete(path: Path) -> tuple[int, int]:
        with open(path, "rb") as locked:
            _filelock.lock(locked.fileno(), path)
            try:
                removed, bad = _rewrite_without(path, locked, selected, selected_raw)
                if progress is not None:
                    progress(locked.tell())
            finally:
                _filelock.unlock(locked.fileno(), path)
        return removed, bad

    return _each_file(directory, delete)


def _each_file(directory: Path, one_file: Callable[[Path], tuple[int, int]]) -> Scan:
    """``one_file`` on every day file, its (records picked, damaged lines) gathered by file."""
    picked: dict[Path, int] = {}
    damaged: dict[Path, int] = {}
    for path in store_files(directory):
        n, bad = one_file(path)
        if n:
            picked[path] = n
        if bad:
            damaged[path] = bad
    return Scan(picked, damaged)


def _rewrite_without(
    path: Path,
    locked: IO[bytes],
    selected: Callable[[Record], bool],
    selected_raw: Callable[[bytes], bool] | None,
) -> tuple[int, int]:
    """Copy the lines to keep into a private temporary file and put it in place of ``path``
    if any line was removed: (lines removed, damaged lines kept)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rewrite-")
    removed = bad = 0
    replaced = False
    try:
        with os.fdopen(fd, "wb") as out:
            for line in locked:
                stripped = line.rstrip(b"\n")
                if not stripped.strip():
                    continue
                record = parse_line(stripped)
                if record is None:
                    if selected_raw is not None and selected_raw(stripped):
                        removed += 1
                        continue
                    bad += 1
                elif selected(record):
                    removed += 1
                    continue
                out.write(stripped + b"\n")
        if removed:
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
            replaced = True
    finally:
        if not replaced:
            os.unlink(tmp)
    return removed, bad
