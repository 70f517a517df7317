"""Legal holds: the append-only, owner-only log of what must be kept longer, and why.

A privacy policy may keep data longer "to comply with our legal obligations, resolve disputes,
and enforce our legal agreements". A hold names a subject by the pseudonyms their identifier
became (never the raw identifier), with who placed it, why, and until when. While a hold is
active, sweeps and data-subject deletion keep the records that carry one of its pseudonyms.
The log is only ever appended to: a release is a new line, so the history stays.
"""

from __future__ import annotations

import getpass
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from .lastvisit import HeldRecords

HOLD_LOG = ".privlog-holds.jsonl"


@dataclass(frozen=True)
class Hold:
    """One legal hold: what it keeps (pseudonyms), why, until when, and who placed it."""

    id: str
    reason: str
    until: date
    placed_by: str
    placed_at: str
    pseudonyms: tuple[tuple[str, str, str], ...] = ()
    """(attribute, value, key id) the subject's identifier became under each key held."""
    subjects: tuple[str, ...] = ()
    """The subject's last-visit pseudonyms (``privlog.retention.subject_id``)."""
    released: str | None = field(default=None)
    """When it was released, if it was."""
    key_store: str | None = None
    """The key store whose keys the hold keeps from shredding, if the policy uses one."""

    def active(self, today: date) -> bool:
        return self.released is None and today <= self.until


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in a container without a passwd entry
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


class HoldLog:
    """``DIR/.privlog-holds.jsonl`` beside the JSONL store: append-only, owner-only."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / HOLD_LOG

    def _append(self, entry: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, orjson.dumps(entry) + b"\n")
        finally:
            os.close(fd)

    def add(
        self,
        reason: str,
        until: date,
        pseudonyms: Sequence[tuple[str, str, str]],
        subjects: Sequence[str] = (),
        placed_by: str | None = None,
        key_store: str | None = None,
    ) -> Hold:
        """Place a hold; returns it with its new id."""
        if not reason.strip():
            raise ValueError("a hold needs a reason")
        if not pseudonyms and not subjects:
            raise ValueError("a hold needs something to keep")
        hold = Hold(
            id="h-" + secrets.token_hex(4),
            reason=reason.strip(),
            until=until,
            placed_by=placed_by or _who(),
            placed_at=_now(),
            pseudonyms=tuple(tuple(p) for p in pseudonyms),  # type: ignore[misc]
            subjects=tuple(subjects),
            key_store=key_store,
        )
        self._append(
            {
                "op": "add",
                "id": hold.id,
                "reason": hold.reason,
                "until": until.isoformat(),
                "by": hold.placed_by,
                "at": hold.placed_at,
                "pseudonyms": [list(p) for p in hold.pseudonyms],
                "subjects": list(hold.subjects),
                "key_store": key_store,
            }
        )
        return hold

    def release(self, hold_id: str, released_by: str | None = None) -> Hold:
        """Release a hold (a new line; the log keeps the hold's history)."""
        current = {h.id: h for h in self.holds()}
        hold = current.get(hold_id)
        if hold is None:
            raise KeyError(hold_id)
        if hold.released is not None:
            return hold
        at = _now()
        self._append({"op": "release", "id": hold_id, "by": released_by or _who(), "at": at})
        return Hold(**{**hold.__dict__, "released": at})

    def holds(self) -> list[Hold]:
        """Every hold ever placed, with its release if any, oldest first. Damaged lines are skipped."""
        found: dict[str, Hold] = {}
        for entry in self._entries():
            hid = entry.get("id")
            if not isinstance(hid, str):
                continue
            if entry.get("op") == "add":
                try:
                    found[hid] = Hold(
                        id=hid,
                        reason=str(entry["reason"]),
                        until=date.fromisoformat(str(entry["until"])),
                        placed_by=str(entry.get("by", "")),
                        placed_at=str(entry.get("at", "")),
                        pseudonyms=tuple((str(a), str(v), str(k)) for a, v, k in entry.get("pseudonyms", [])),
                        subjects=tuple(str(s) for s in entry.get("subjects", [])),
                        key_store=entry.get("key_store") if isinstance(entry.get("key_store"), str) else None,
                    )
                except (KeyError, ValueError, TypeError):
                    continue
            elif entry.get("op") == "release" and hid in found:
                found[hid] = Hold(**{**found[hid].__dict__, "released": str(entry.get("at", ""))})
        return list(found.values())

    def active(self, today: date) -> list[Hold]:
        return [h for h in self.holds() if h.active(today)]

    def _entries(self) -> Iterator[dict[str, Any]]:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below; a missing log has no holds
        except FileNotFoundError:
            return
        with fh:
            for line in fh:
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(entry, dict):
                    yield entry


def held_records(holds: Iterable[Hold]) -> HeldRecords | None:
    """What the given holds keep, for the sweeps and deletion; None when nothing is held."""
    holds = list(holds)
    if not holds:
        return None
    pairs = [(attribute, value) for h in holds for attribute, value, _ in h.pseudonyms]
    return HeldRecords(pairs, [s for h in holds for s in h.subjects])
