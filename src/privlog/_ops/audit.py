"""``privlog audit STORE``: does a JSONL store keep the policy's promises?

Reads every record of a store, streaming, and reports what should not be there: values that
look like raw personal data (a full address where the policy truncates, e-mail addresses, long
random tokens, phone numbers), attributes the policy does not list, records past their expiry,
keyed records whose key was shredded, and files or folders others can read. A finding names
the file, line and attribute, never the value: the report must not spread what it found.
This module walks the store; the checks of each record are ``audit_checks.py``.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import orjson

from .._core.record import iso_utc
from .._policy.model import Policy
from ..sinks.holdlog import HoldLog, held_records
from ..sinks.jsonl import stream_basis, stream_dirs
from ..sinks.lastvisit import LastSeenIndex
from .audit_checks import KINDS as KINDS  # the audit's names, where callers found them
from .audit_checks import Checker, Layout, Plan, Report, day_of, plan_for
from .audit_checks import classify as classify


class Progress:
    """Bytes read so far, passed on to a callback (a progress bar on a terminal) now and then."""

    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.total = total or 1
        self.done = 0
        self.callback = callback

    def __call__(self, offset: int, done: bool = False) -> None:
        if self.callback is not None:
            self.callback(self.done + offset, self.total)
        if done:
            self.done += offset


def store_streams(store: Path) -> Iterator[tuple[str, Path, int]]:
    """Each stream folder of a JSONL store (one with privlog's metadata file), with its retention."""
    for folder, days in stream_dirs(store):
        yield folder.name, folder, days


def _check_mode(path: Path, report: Report, stream: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        report.add("permissions", stream, "", f"{path} ({oct(mode)})")


def audit_store(
    store: str | os.PathLike[str],
    policy: Policy | None = None,
    now_ns: int | None = None,
    held_key_ids: frozenset[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Audit a JSONL store against ``policy`` (or, without one, against privlog's own rules).

    ``held_key_ids`` are the key ids a key store still holds; a record keyed with another id
    has lost its key. ``on_progress(done_bytes, total_bytes)`` is called now and then.
    """
    started = time.perf_counter()
    root = Path(store)
    report = Report(str(root))
    now_iso = iso_utc(time.time_ns() if now_ns is None else now_ns)
    streams = {s.name: s for s in policy.streams} if policy is not None else {}
    if policy is None:
        report.notes.append("no policy given: unlisted attributes and truncation were not checked")
    _check_mode(root, report, "")
    files: list[tuple[str, Path, int]] = []
    today_number = (day_of(now_iso) - date(1970, 1, 1)).days
    held = held_records(HoldLog(root).active(day_of(now_iso)))
    for name, folder, days in store_streams(root):
        report.streams.append(name)
        if policy is not None and name not in streams:
            report.add("unknown-stream", name, "", str(folder))
        _check_mode(folder, report, name)
        for path in sorted(folder.iterdir()):  # the day files, the metadata, the last-seen index
            if path.is_file():
                _check_mode(path, report, name)
                if path.suffix == ".jsonl" and not path.name.startswith("."):
                    files.append((name, path, days))
    for path in sorted(root.glob(".privlog-*")):  # the hold log
        if path.is_file():
            _check_mode(path, report, "")
    progress = Progress(sum(p.stat().st_size for _, p, _ in files), on_progress)
    checker = Checker(report, now_iso, held_key_ids, held, today_number)
    last_seen: dict[Path, dict[str, int]] = {}
    for name, path, days in files:
        plan = plan_for(streams.get(name)) if policy is not None else plan_for(None)
        if policy is not None and name not in streams:
            plan.listed = False
        if stream_basis(path.parent) == "last_visit":
            if path.parent not in last_seen:
                last_seen[path.parent] = LastSeenIndex.load(path.parent).days
            plan.last_seen, plan.days = last_seen[path.parent], days
        _audit_file(path, name, plan, checker, progress)
        report.files += 1
    report.seconds = time.perf_counter() - started
    return report


def _audit_file(path: Path, stream: str, plan: Plan, checker: Checker, progress: Progress) -> None:
    """Check every line of one day file. Hot: everything per record is a C call or a set test."""
    report = checker.report
    rel = f"{stream}/{path.name}"
    layouts: dict[tuple[str, ...], Layout] = {}
    loads = orjson.loads
    clean = checker.clean
    now_iso = checker.now_iso
    held = checker.held
    prefixes = plan.prefixes
    records = 0
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not lineno & 0xFFFF:
                progress(fh.tell())
            try:
                rec = loads(line)
            except orjson.JSONDecodeError:
                if line.strip():
                    report.add("unreadable", stream, "", f"{rel}:{lineno}")
                continue
            if rec.__class__ is not dict:
                report.add("unreadable", stream, "", f"{rel}:{lineno}")
                continue
            records += 1
            keys = tuple(rec)
            layout = layouts.get(keys)
            if layout is None:
                layout = layouts[keys] = Layout(rec, keys, plan)
            for key in layout.unlisted:
                report.add("unlisted", stream, key, f"{rel}:{lineno}")
            if layout.scan is not None:
                values = layout.scan(rec)
                if not clean.issuperset(values):
                    checker.values(layout, values, stream, f"{rel}:{lineno}")
            if (
                layout.expiry
                and rec["privlog.retention.expires_at"] <= now_iso
                and checker.expired(rec, line, plan)
            ):
                report.add("expired", stream, "", f"{rel}:{lineno}")
            if layout.address and prefixes is not None and checker.address(rec["client.address"], prefixes):
                report.add("raw-address", stream, "client.address", f"{rel}:{lineno}")
            if layout.key_id and held is not None and rec["privlog.key_id"] not in held:
                report.add("shredded-key", stream, "privlog.key_id", f"{rel}:{lineno}")
    progress(path.stat().st_size, done=True)
    report.records += records
