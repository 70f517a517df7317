"""Data-subject requests (GDPR Art. 15 and 17): what a person's identifiers became, where.

Given a raw user id or IP address, compute its pseudonym or keyed hash under every key still
held, then find (or delete) exactly the records that carry one of them, with the key id that
made it. Nothing here runs on the request path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .._core.steps import SUBJECT_ATTRIBUTE
from .._errors import UsageError
from .._keys.epochs import StaticKeys
from .._keys.ring import KeyRing
from .._keys.source import open_keys
from .._keys.store import KeyStore
from .._policy.catalogue import FIELDS, KEYED_ACTIONS, KEYED_ADDRESS
from .._policy.model import Policy
from .._transforms.address import parse_ip
from ..clickhouse import subject_delete, subject_query
from ..sinks.holdlog import HoldLog, held_records
from ..sinks.jsonl_scan import Progress, Scan, count_records, delete_records


@dataclass(frozen=True)
class Match:
    """One value a subject's identifier takes in the logs under one key."""

    attribute: str
    value: str
    key_id: str


def held_rings(policy: Policy, today: date | None = None) -> list[KeyRing]:
    """The rings of every epoch whose records may still exist, newest last."""
    keys = open_keys(policy)
    if isinstance(keys, KeyStore):
        return [held.ring for held in keys.held(today)]
    if isinstance(keys, StaticKeys):
        return [ring for _, ring in keys.held(policy.keyed_retention_days, today)]
    return []


def identifiers(user_id: str | None, ip: str | None) -> tuple[bytes | None, bytes | None]:
    """A subject's user id and address as the keyed functions take them; a UsageError naming
    ``--ip`` (never its value) if the address does not parse."""
    address = None
    if ip is not None:
        address = parse_ip(ip)
        if address is None:
            raise UsageError("--ip", "is not an IP address", "pass an IPv4 or IPv6 address")
    return (None if user_id is None else user_id.encode("utf-8", "surrogatepass")), address


def subject_matches(
    policy: Policy, *, user_id: str | None = None, ip: str | None = None, today: date | None = None
) -> list[Match]:
    """Every (attribute, value, key id) the given identifiers can appear as, under held keys."""
    user, address = identifiers(user_id, ip)
    raw = {k: v for k, v in (("user", user), ("address", address)) if v is not None}
    wanted: list[tuple[str, str, str, bytes]] = []  # attribute, action, domain, raw value
    for stream in policy.streams:
        for name, rule in stream.fields.items():
            spec = FIELDS[name]
            if rule.action in KEYED_ACTIONS and spec.identifies is not None and spec.identifies in raw:
                attribute = KEYED_ADDRESS if name == "client_ip" else spec.attributes[0]
                wanted.append((attribute, rule.action, name, raw[spec.identifies]))
    out: dict[tuple[str, str, str], Match] = {}
    for ring in held_rings(policy, today):
        for attribute, action, domain, value_in in wanted:
            value = ring.keyed(action, domain)(value_in)
            out[(attribute, value, ring.key_id)] = Match(attribute, value, ring.key_id)
    for value in subject_pseudonyms(policy, user_id=user_id, ip=ip):
        out[(SUBJECT_ATTRIBUTE, value, ANY_KEY)] = Match(SUBJECT_ATTRIBUTE, value, ANY_KEY)
    return list(out.values())


ANY_KEY = "*"
"""The key id of a last-visit subject pseudonym: its key does not rotate, so any record matches."""


def subject_pseudonyms(policy: Policy, *, user_id: str | None = None, ip: str | None = None) -> list[str]:
    """The last-visit subject pseudonyms of an identifier, in the streams that count from it."""
    user, address = identifiers(user_id, ip)
    raw = {k: v for k, v in (("user_id", user), ("client_ip", address)) if v is not None}
    fields = {s.retention.subject for s in policy.streams if s.retention.subject in raw}
    if not fields:
        return []
    keys = open_keys(policy)
    if keys is None:
        return []
    ring = keys.subject_ring()
    return sorted({ring.pseudonymiser(f"subject:{f}")(raw[f]) for f in fields if f is not None})


def _matches(record: dict[str, object], index: dict[tuple[str, str], set[str]]) -> bool:
    key_id = record.get("privlog.key_id")
    for (attribute, value), key_ids in index.items():
        if record.get(attribute) == value and (key_id in key_ids or ANY_KEY in key_ids):
            return True
    return False


def _index(matches: Iterable[Match]) -> dict[tuple[str, str], set[str]]:
    index: dict[tuple[str, str], set[str]] = {}
    for m in matches:
        index.setdefault((m.attribute, m.value), set()).add(m.key_id)
    return index


def find_in_store(directory: Path, matches: Iterable[Match], progress: Progress | None = None) -> Scan:
    """How many records of each JSONL file belong to the subject; damaged lines skipped."""
    index = _index(matches)
    return count_records(directory, lambda record: _matches(record, index), progress)


def delete_in_store(directory: Path, matches: Iterable[Match], progress: Progress | None = None) -> Scan:
    """Remove the subject's records from every JSONL file (see :func:`delete_records`); a
    damaged line that holds one of the subject's values goes too."""
    matches = list(matches)
    index = _index(matches)
    values = tuple({m.value.encode() for m in matches})
    # A legal hold keeps its records from erasure until it ends (GDPR Art. 17(3)(e)).
    held = held_records(HoldLog(directory).active(date.today()))
    if held is None:
        return delete_records(
            directory,
            lambda record: _matches(record, index),
            lambda line: any(v in line for v in values),
            progress,
        )
    return delete_records(
        directory,
        lambda record: _matches(record, index) and not held.holds_record(record),
        lambda line: any(v in line for v in values) and not held.holds(line),
        progress,
    )


def backend_queries(matches: list[Match]) -> dict[str, str]:
    """Queries that find or delete the subject's records where else the records went."""
    by_attribute: dict[str, list[str]] = {}
    for m in matches:
        by_attribute.setdefault(m.attribute, []).append(m.value)
    jq = " or ".join(
        f'."{attribute}" == "{value}"' for attribute, values in by_attribute.items() for value in values
    )
    queries = {"jq (JSONL store)": f"jq -c 'select({jq})' DIR/*/*.jsonl"}
    for attribute, values in by_attribute.items():
        queries[f"ClickHouse, {attribute}"] = subject_query(values, attribute)
        queries[f"ClickHouse delete, {attribute}"] = subject_delete(values, attribute)
    return queries
