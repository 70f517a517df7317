"""Data-subject requests (GDPR Art. 15 and 17): what a person's identifiers became, where.

Given a raw user id or IP address, compute its pseudonym or keyed hash under every key still
held, then find (or delete) exactly the records that carry one of them, with the key id that
made it. Nothing here runs on the request path.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson

from .._core.steps import make_keys
from .._keys.epochs import StaticKeys
from .._keys.ring import KeyRing
from .._keys.store import KeyStore
from .._policy.catalogue import KEYED_ACTIONS
from .._policy.model import Policy
from .._transforms.address import parse_ip
from ..clickhouse import subject_delete, subject_query


@dataclass(frozen=True)
class Match:
    """One value a subject's identifier takes in the logs under one key."""

    attribute: str
    value: str
    key_id: str


def held_rings(policy: Policy, today: date | None = None) -> list[KeyRing]:
    """The rings of every epoch whose records may still exist, newest last."""
    keys = make_keys(policy)
    if isinstance(keys, KeyStore):
        return [held.ring for held in keys.held(today)]
    if isinstance(keys, StaticKeys):
        return [ring for _, ring in keys.held(policy.keyed_retention_days, today)]
    return []


def subject_matches(
    policy: Policy, *, user_id: str | None = None, ip: str | None = None, today: date | None = None
) -> list[Match]:
    """Every (attribute, value, key id) the given identifiers can appear as, under held keys."""
    wanted: list[tuple[str, str, str, bytes]] = []  # attribute, action, domain, raw value
    for stream in policy.streams:
        for name, rule in stream.fields.items():
            if rule.action not in KEYED_ACTIONS:
                continue
            if name == "user_id" and user_id is not None:
                wanted.append(("user.id", rule.action, "user_id", user_id.encode("utf-8", "surrogatepass")))
            elif name == "client_ip" and ip is not None:
                packed = parse_ip(ip)
                if packed is None:
                    raise ValueError("--ip is not an IP address")
                wanted.append(("client.address", rule.action, "client_ip", packed))
    out: dict[tuple[str, str, str], Match] = {}
    for ring in held_rings(policy, today):
        for attribute, action, domain, raw in wanted:
            value = ring.keyed(action, domain)(raw)
            out[(attribute, value, ring.key_id)] = Match(attribute, value, ring.key_id)
    return list(out.values())


def _matches(record: dict[str, object], index: dict[tuple[str, str], set[str]]) -> bool:
    key_id = record.get("privlog.key_id")
    for (attribute, value), key_ids in index.items():
        if record.get(attribute) == value and key_id in key_ids:
            return True
    return False


def _index(matches: Iterable[Match]) -> dict[tuple[str, str], set[str]]:
    index: dict[tuple[str, str], set[str]] = {}
    for m in matches:
        index.setdefault((m.attribute, m.value), set()).add(m.key_id)
    return index


def find_in_store(directory: Path, matches: Iterable[Match]) -> dict[Path, int]:
    """How many records of each JSONL file belong to the subject."""
    index = _index(matches)
    found: dict[Path, int] = {}
    for path in sorted(directory.glob("*/*.jsonl")):
        n = sum(1 for line in path.read_bytes().splitlines() if line and _matches(orjson.loads(line), index))
        if n:
            found[path] = n
    return found


def delete_in_store(directory: Path, matches: Iterable[Match]) -> dict[Path, int]:
    """Remove the subject's records from every JSONL file, atomically and owner-only.

    Each file is rewritten under the same lock the running store appends with, so no record
    written meanwhile is lost (the store re-opens a file that was replaced).
    """
    index = _index(matches)
    deleted: dict[Path, int] = {}
    for path in sorted(directory.glob("*/*.jsonl")):
        with open(path, "rb") as locked:
            fcntl.flock(locked.fileno(), fcntl.LOCK_EX)
            lines = locked.read().splitlines()
            keep = [line for line in lines if line and not _matches(orjson.loads(line), index)]
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
