"""``privlog policy ropa``: the record of processing activities (GDPR Art. 30), one entry per stream."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

import orjson

from .._policy.model import Policy
from .._policy.types import FieldRule, Stream
from .document import md_escape
from .locale import Locale
from .sentences import collector_host

#: The columns of an entry, in the order a processing register lists them (Art. 30(1)(a)-(g)).
COLUMNS = (
    "controller",
    "activity",
    "purpose",
    "legal_basis",
    "data_categories",
    "data_subjects",
    "recipients",
    "transfers",
    "retention",
    "technical_measures",
)
FORMATS = ("json", "csv", "md")

Entry = dict[str, str | list[str]]

_RECIPIENTS = {
    "jsonl": ("ropa.recipients_jsonl",),
    "otlp": ("ropa.recipients_collector",),
    "otel": ("ropa.recipients_collector",),
    "both": ("ropa.recipients_jsonl", "ropa.recipients_collector"),
    "auto": ("ropa.recipients_jsonl", "ropa.recipients_auto"),
}


def entries(policy: Policy, loc: Locale, environ: Mapping[str, str] | None = None) -> list[Entry]:
    """One register entry per stream, in ``loc``'s language."""
    host = collector_host(environ or {}) or loc.text("ropa.host_unknown")
    local_only = policy.export.sink == "jsonl"
    out: list[Entry] = []
    for s in policy.streams:
        r = s.retention
        subjects = [loc.text("ropa.subjects")]
        if "user_id" in s.fields or "auth" in s.events:
            subjects.append(loc.text("ropa.subjects_signed_in"))
        out.append(
            {
                "controller": policy.service,
                "activity": loc.text("ropa.activity", name=s.name),
                "purpose": r.purpose,
                "legal_basis": loc.legal_text(r.legal_basis),
                "data_categories": _categories(loc, s),
                "data_subjects": subjects,
                "recipients": [loc.text(key, host=host) for key in _RECIPIENTS[policy.export.sink]],
                "transfers": loc.text("ropa.transfers_none")
                if local_only
                else loc.text("ropa.transfers_collector", host=host),
                "retention": loc.text(
                    "ropa.retention" if r.subject is None else "ropa.retention_last_visit",
                    days=loc.span(r.days),
                ),
                "technical_measures": _measures(loc, policy, s),
            }
        )
    return out


def _categories(loc: Locale, stream: Stream) -> list[str]:
    out = [loc.text(f"ropa.category.{name}") for name in stream.fields]
    out += [loc.text("ropa.category.header", header=h) for h in stream.headers]
    out += [loc.text(f"ropa.category.event_{e}") for e in ("websocket", "auth") if e in stream.events]
    return out


def measure(loc: Locale, name: str, rule: FieldRule, algorithm: str) -> str | None:
    """The measure an action takes on a field, or None for ``keep`` (the value is stored as it is)."""
    if rule.action == "keep":
        return None
    return loc.text(
        f"ropa.measure.{rule.action}",
        category=loc.text(f"ropa.category.{name}"),
        algorithm=loc.text(f"keys.algorithm_{algorithm}"),
        **{k: v for k, v in rule.options.items() if isinstance(v, int)},
    )


def _measures(loc: Locale, policy: Policy, stream: Stream) -> list[str]:
    out = [loc.text("ropa.allowlist")]
    for name, rule in stream.fields.items():
        m = measure(loc, name, rule, policy.hash_algorithm)
        if m is not None:
            out.append(m)
    for header, action in stream.headers.items():
        if action != "keep":
            category = loc.text("ropa.category.header", header=header)
            out.append(
                loc.text(
                    f"ropa.measure.{action}",
                    category=category,
                    algorithm=loc.text(f"keys.algorithm_{policy.hash_algorithm}"),
                )
            )
    if stream.consent_gated:
        out.append(loc.text("ropa.gated"))
    if stream.retention.subject is not None:
        out.append(loc.text("ropa.subject_key"))
    if stream.keyed:
        rotation, shred_after = _lifecycle(policy)
        out.append(loc.text("ropa.rotation", rotation=loc.text(f"ropa.rotation_{rotation}")))
        if shred_after is not None:
            out.append(loc.text("ropa.shredding", days=loc.span(shred_after)))
    if policy.export.sink in ("jsonl", "both", "auto"):
        out.append(loc.text("ropa.store"))
    return out


def _lifecycle(policy: Policy) -> tuple[str, int | None]:
    if policy.key_store is None:
        return policy.rotation, None
    from .._keys.store import KeyStore

    store = KeyStore.load(policy.key_store, policy.hash_algorithm)
    return store.rotation, store.retention_days


def render_ropa(items: list[Entry], loc: Locale, fmt: str) -> str:
    """The entries as ``json`` (lists kept), ``csv`` or ``md`` (lists joined by "; ")."""
    if fmt == "json":
        return orjson.dumps(items, option=orjson.OPT_INDENT_2).decode() + "\n"
    titles = [loc.text(f"ropa.column.{c}") for c in COLUMNS]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(titles)
        writer.writerows([_flat(e[c]) for c in COLUMNS] for e in items)
        return buf.getvalue()
    if fmt == "md":
        lines = [f"# {md_escape(loc.text('ropa.title'))}"]
        for e in items:
            lines += ["", f"## {md_escape(_flat(e['activity']))}", "", "| | |", "|---|---|"]
            lines += [
                f"| {md_escape(t)} | {md_escape(_flat(e[c]))} |" for t, c in zip(titles, COLUMNS, strict=True)
            ]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def _flat(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "; ".join(value)
