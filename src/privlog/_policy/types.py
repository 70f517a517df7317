"""The parts of a policy, as frozen values: retention classes, field rules, streams, export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalogue import KEYED_ACTIONS

#: Where a retention period counts from: each record's own time, or the last visit of its subject.
RETENTION_BASES = ("record", "last_visit")

#: Fields whose keyed value can be the subject of a last-visit rule.
SUBJECT_FIELDS = ("user_id", "session_id", "client_ip")


@dataclass(frozen=True)
class RetentionClass:
    """How long a stream's records may be kept, why, and on what legal basis.

    ``counted_from = "last_visit"``: the period counts from the last visit of the record's
    ``subject`` (the pseudonymous user, session or client address), so a returning visitor
    keeps their history and one who stays away loses all of it ``days`` after their last visit.
    """

    name: str
    days: int
    purpose: str
    legal_basis: str
    counted_from: str = "record"
    subject: str | None = None


@dataclass(frozen=True)
class FieldRule:
    """One allow-listed field and what is done to it before it leaves the process."""

    action: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stream:
    """A purpose-bound stream of records with its own fields and retention class."""

    name: str
    retention: RetentionClass
    fields: Mapping[str, FieldRule]
    headers: Mapping[str, str]
    """Allow-listed request headers and their action: ``hash``, ``pseudonymise``,
    ``reversible``, or ``keep`` with the pattern in :attr:`header_patterns`."""
    consent_gated: bool = False
    events: frozenset[str] = frozenset({"http", "websocket"})
    header_patterns: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    """The shape each kept header's values must fit (``"uuid"``, ``"int"``, allowed values)."""

    @property
    def keyed(self) -> bool:
        """True when some field or header of the stream is hashed or pseudonymised with a key."""
        return any(r.action in KEYED_ACTIONS for r in self.fields.values()) or any(
            a in KEYED_ACTIONS for a in self.headers.values()
        )


@dataclass(frozen=True)
class ExportSettings:
    """Where records go and how the background worker batches them."""

    sink: str = "auto"
    directory: str = "privlog-logs"
    queue_size: int = 10_000
    batch_size: int = 256
    flush_interval: float = 0.5
