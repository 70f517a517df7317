"""The checks ``privlog audit`` makes of each record, whatever it is read from.

A JSONL store (``audit.py``) and the Collector's ClickHouse table (``audit_clickhouse.py``)
hand their records here: per stream a :class:`Plan` says what to do with each attribute, a
:class:`Layout` works that out once per sequence of attribute names, and a :class:`Checker`
remembers the values seen clean, so most records cost a few set and dict look-ups. Findings
name the place, never the value.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .._core.steps import SUBJECT_ATTRIBUTE
from .._policy.catalogue import FIELDS, KEYED_ACTIONS
from .._policy.types import Stream
from ..sinks.lastvisit import HeldRecords

#: Attributes every record carries, written by privlog itself, and those of WebSocket sessions.
_BASE = (
    "timestamp",
    "event.name",
    "privlog.stream",
    "privlog.retention.class",
    "privlog.retention.days",
    "privlog.purpose",
    "privlog.legal_basis",
    "privlog.session.start",
    "privlog.session.end",
    "privlog.websocket.messages_in",
    "privlog.websocket.messages_out",
    "privlog.websocket.bytes_in",
    "privlog.websocket.bytes_out",
    "privlog.websocket.close_code",
    "privlog.incomplete",
    "privlog.retention.from",
    SUBJECT_ATTRIBUTE,  # a keyed pseudonym of the last-visit subject
)
#: What to do with an attribute's value.
_SKIP, _SCAN, _ADDRESS, _EXPIRY, _KEY_ID = range(5)
_CACHE_LIMIT = 200_000

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_IPV4 = r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])"
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
_TOKEN = r"[A-Za-z0-9_\-]{20,}|[A-Za-z0-9+/]{20,}={0,2}"  # noqa: S105 - a pattern, not a secret
_PHONE = r"(?<![\w+])(?:\+|00?)[1-9][\d ()./-]{6,18}\d(?![\w])"
_SUSPECT = re.compile(
    f"(?P<email>{_EMAIL})|(?P<ipv4>{_IPV4})|(?P<ipv6>{_IPV6})|(?P<phone>{_PHONE})|(?P<token>{_TOKEN})"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: The kinds of finding, and what each means, for the report.
KINDS = {
    "ip-address": "an IP address in a value the policy does not keep raw",
    "raw-address": "a client address with more bits than the policy's truncation keeps",
    "email": "an e-mail address",
    "token": "a long random token (a credential, session or tracking id)",
    "phone": "a phone number",
    "unlisted": "an attribute the policy does not list",
    "unknown-stream": "a stream the policy does not define",
    "expired": "a record past its expiry (privlog.retention.expires_at)",
    "shredded-key": "a keyed record whose key was shredded (its pseudonyms can no longer be checked)",
    "permissions": "a file or folder others can read or write (should be 0600 / 0700)",
    "unreadable": "a line that is not a JSON object",
}


def classify(value: str) -> tuple[str, ...]:
    """The kinds of raw personal data ``value`` appears to hold (empty when none)."""
    kinds: list[str] = []
    for m in _SUSPECT.finditer(value):
        kind = m.lastgroup
        text = m.group()
        if kind == "ipv6":
            try:
                ipaddress.IPv6Address(text)
            except ValueError:
                continue
            kind = "ipv4"
        elif (kind == "token" and not _looks_random(text)) or (
            kind == "phone" and not _looks_like_phone(text)
        ):
            continue
        name = "ip-address" if kind == "ipv4" else str(kind)
        if name not in kinds:
            kinds.append(name)
    return tuple(kinds)


def _looks_random(text: str) -> bool:
    """Letters and digits mixed as no word is: at least 2 digits, 2 letters, 10 distinct characters."""
    digits = sum(c.isdigit() for c in text)
    letters = sum(c.isalpha() for c in text)
    return digits >= 2 and letters >= 2 and len(set(text)) >= 10


def _looks_like_phone(text: str) -> bool:
    if _DATE.search(text):
        return False
    digits = sum(c.isdigit() for c in text)
    return 8 <= digits <= 15


@dataclass
class Tally:
    """The findings of one kind, stream and attribute: how many, and where the first were."""

    count: int = 0
    where: list[str] = field(default_factory=list)
    detail: str = ""

    def add(self, location: str) -> None:
        self.count += 1
        if len(self.where) < 3:
            self.where.append(location)


@dataclass
class Report:
    """What an audit found."""

    store: str
    records: int = 0
    files: int = 0
    streams: list[str] = field(default_factory=list)
    findings: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def add(self, kind: str, stream: str, attribute: str, location: str, detail: str = "") -> None:
        tally = self.findings.get((kind, stream, attribute))
        if tally is None:
            tally = self.findings[(kind, stream, attribute)] = Tally(detail=detail)
        tally.add(location)


@dataclass
class Plan:
    """How one stream's records are checked: per attribute, what to do with its value."""

    actions: dict[str, int]
    listed: bool  # False without a policy: unknown attributes are not findings
    prefixes: tuple[int, int] | None = None
    last_seen: dict[str, int] | None = None
    """For a stream counted from each subject's last visit: subject -> last day seen."""
    days: int = 0


def plan_for(stream: Stream | None) -> Plan:
    actions = dict.fromkeys(_BASE, _SKIP)
    actions["privlog.retention.expires_at"] = _EXPIRY
    actions["privlog.key_id"] = _KEY_ID
    if stream is None:
        # No policy: scan what cannot hold a pseudonym; trust the identifier attributes.
        for spec in FIELDS.values():
            keyable = any(a in KEYED_ACTIONS for a in spec.actions)
            actions.update(dict.fromkeys(spec.attributes, _SKIP if keyable else _SCAN))
        return Plan(actions, listed=False)
    prefixes = None
    for name, rule in stream.fields.items():
        spec = FIELDS[name]
        raw = rule.action == "keep" and len(spec.actions) > 1  # kept raw, as the policy says
        keyed = rule.action in KEYED_ACTIONS
        actions.update(dict.fromkeys(spec.attributes, _SKIP if raw or keyed else _SCAN))
        if name == "client_ip" and rule.action == "truncate":
            actions["client.address"] = _ADDRESS
            prefixes = (int(rule.options["ipv4_prefix"]), int(rule.options["ipv6_prefix"]))
    for header in stream.headers:
        actions[f"http.request.header.{header}"] = _SKIP  # kept raw or keyed, as the policy says
    return Plan(actions, listed=True, prefixes=prefixes)


def _address_kept_too_much(value: str, prefixes: tuple[int, int]) -> bool:
    """True when a truncated address has host bits set beyond the policy's prefix."""
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return False  # "invalid", or a pseudonym: not an address
    bits = prefixes[0] if addr.version == 4 else prefixes[1]
    total = addr.max_prefixlen
    host_mask = (1 << (total - bits)) - 1
    return bool(int(addr) & host_mask)


def day_of(iso: str) -> date:
    """The UTC day of an ISO timestamp (records' expiry and the audit's "now")."""
    return date.fromisoformat(iso[:10])


class Layout:
    """The checks of records with one sequence of attribute names, worked out once."""

    __slots__ = ("address", "expiry", "key_id", "scan", "scan_keys", "unlisted")

    def __init__(self, rec: dict[str, Any], keys: tuple[str, ...], plan: Plan) -> None:
        actions = plan.actions
        self.unlisted = [k for k in keys if k not in actions] if plan.listed else []
        # Only text can hold an address, a token or an e-mail; numbers (durations, sizes) vary
        # from record to record and would defeat the set of values seen clean.
        self.scan_keys = [k for k in keys if actions.get(k) == _SCAN and isinstance(rec[k], str)]
        self.scan: Callable[[dict[str, Any]], Any] | None = (
            operator.itemgetter(*self.scan_keys, self.scan_keys[0]) if self.scan_keys else None
        )  # a tuple even for one key: the first key again, ignored
        self.expiry = "privlog.retention.expires_at" in keys
        self.key_id = "privlog.key_id" in keys
        self.address = (
            plan.prefixes is not None
            and actions.get("client.address") == _ADDRESS
            and "client.address" in keys
        )


class Checker:
    """Checks records; the values seen clean and the layouts seen are remembered across files."""

    def __init__(
        self,
        report: Report,
        now_iso: str,
        held: frozenset[str] | None,
        holds: HeldRecords | None,
        today: int,
    ) -> None:
        self.report = report
        self.now_iso = now_iso
        self.held = held
        self.holds = holds
        self.today = today
        self.clean: set[Any] = set()
        self.dirty: dict[str, tuple[str, ...]] = {}
        self.addresses: dict[str, bool] = {}

    def values(self, layout: Layout, values: tuple[Any, ...], stream: str, where: str) -> None:
        """The slow path: some value of this record was not seen clean before."""
        for key, value in zip(layout.scan_keys, values, strict=False):
            if value in self.clean:
                continue
            kinds = self.dirty.get(value) if isinstance(value, str) else ()
            if kinds is None:
                kinds = classify(value)
                if kinds:
                    self.dirty[value] = kinds
            if not kinds:
                if len(self.clean) < _CACHE_LIMIT:
                    self.clean.add(value)
                continue
            for kind in kinds:
                self.report.add(kind, stream, key, where)

    def expired(self, rec: dict[str, Any], line: bytes, plan: Plan) -> bool:
        """A record past its expires_at is expired unless a hold keeps it or, counted from its
        subject's last visit, the subject came back (the index says when)."""
        if self.holds is not None and self.holds.holds(line):
            return False
        subject = rec.get(SUBJECT_ATTRIBUTE)
        if plan.last_seen is not None and subject is not None:
            last = plan.last_seen.get(subject)
            return last is not None and last + plan.days <= self.today
        return True

    def address(self, value: Any, prefixes: tuple[int, int]) -> bool:
        too_much = self.addresses.get(value)
        if too_much is None:
            too_much = isinstance(value, str) and _address_kept_too_much(value, prefixes)
            if len(self.addresses) < _CACHE_LIMIT:
                self.addresses[value] = too_much
        return too_much
