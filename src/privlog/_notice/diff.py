"""``privlog policy diff OLD NEW``: what a policy change means for the people whose requests are logged.

Each change is told in the notice's words and marked ``more`` (more data, kept longer, less
protected, a new recipient), ``less``, or ``same``. The published notice needs updating when
the notice written from NEW differs from the one written from OLD: that is the exit code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .._policy.model import Policy
from .._policy.types import FieldRule, Stream
from .explain import notice_blocks
from .locale import Locale
from .sentences import EVENT_ORDER, events_phrase, field_sentence, header_sentence, recipients

Direction = Literal["more", "less", "same"]

#: Per field, its actions from the most protective to the least; equal numbers protect alike.
PROTECTION: dict[str, dict[str, int]] = {
    "timestamp": {"keep": 0},
    "duration": {"keep": 0},
    "method": {"keep": 0},
    "scheme": {"keep": 0},
    "http_version": {"keep": 0},
    "path": {"template": 0, "scrub": 1, "keep": 2},
    "query": {"allowlist": 0},
    "status": {"keep": 0},
    "request_bytes": {"keep": 0},
    "response_bytes": {"keep": 0},
    "referrer": {"origin": 0, "keep": 1},
    "user_agent": {"generalise": 0, "keep": 1},
    "language": {"generalise": 0},
    "client_ip": {"truncate": 0, "hash": 1, "cryptopan": 2, "keep": 3},
    "client_port": {"keep": 0},
    "location": {"country": 0, "region": 1, "city": 2},
    "user_id": {"hash": 0, "pseudonymise": 0, "reversible": 1, "keep": 2},
    "session_id": {"hash": 0, "pseudonymise": 0, "reversible": 1, "keep": 2},
}
HEADER_PROTECTION = {"hash": 0, "pseudonymise": 0, "reversible": 1, "keep": 2}

#: Who receives records, per sink.
_RECIPIENTS = {
    "jsonl": frozenset({"store"}),
    "otlp": frozenset({"collector"}),
    "otel": frozenset({"collector"}),
    "both": frozenset({"store", "collector"}),
    "auto": frozenset({"store", "collector"}),
}
#: How long pseudonyms stay linkable, per rotation: a larger number is longer.
_LINKABLE = {"daily": 0, "weekly": 1, "monthly": 2, "never": 3}


@dataclass(frozen=True)
class Change:
    """One change, in words, and whether it means more or less for the people logged."""

    direction: Direction
    text: str


@dataclass(frozen=True)
class PolicyDiff:
    changes: tuple[Change, ...]
    needs_update: bool
    """True when the published notice must be updated: the notice written from NEW differs."""


def diff(old: Policy, new: Policy, loc: Locale, environ: Mapping[str, str] | None = None) -> PolicyDiff:
    """The changes from ``old`` to ``new`` for the people whose requests are logged."""
    env = environ if environ is not None else {}
    changes: list[Change] = []
    olds = {s.name: s for s in old.streams}
    news = {s.name: s for s in new.streams}
    for name, s in news.items():
        if name not in olds:
            r = s.retention
            text = loc.text(
                "diff.stream_added",
                name=name,
                events=events_phrase(loc, s.events),
                days=loc.span(r.days),
                purpose=r.purpose,
            )
            changes.append(Change("more", text))
        else:
            changes += _stream_changes(olds[name], s, loc)
    changes += [Change("less", loc.text("diff.stream_removed", name=n)) for n in olds if n not in news]
    changes += _export_changes(old, new, loc)
    notice_changes = notice_blocks(old, loc, env) != notice_blocks(new, loc, env)
    if notice_changes and not changes:
        changes.append(Change("same", loc.text("diff.wording")))
    return PolicyDiff(tuple(changes), notice_changes or bool(changes))


_RULE_KEYS: dict[Direction, str] = {
    "more": "diff.field_weaker",
    "less": "diff.field_stronger",
    "same": "diff.field_changed",
}


def _stream_changes(old: Stream, new: Stream, loc: Locale) -> list[Change]:
    return (
        _field_changes(old, new, loc)
        + _header_changes(old, new, loc)
        + _retention_changes(old, new, loc)
        + _gate_and_event_changes(old, new, loc)
    )


def _field_changes(old: Stream, new: Stream, loc: Locale) -> list[Change]:
    out: list[Change] = []
    st = new.name
    for name, rule in new.fields.items():
        before = old.fields.get(name)
        sentence = field_sentence(loc, name, rule)
        if before is None:
            out.append(Change("more", loc.text("diff.field_added", stream=st, sentence=sentence)))
        elif before != rule:
            direction = _compare(name, before, rule)
            old_sentence = field_sentence(loc, name, before)
            text = loc.text(_RULE_KEYS[direction], stream=st, old=old_sentence, new=sentence)
            out.append(Change(direction, text))
    for name, rule in old.fields.items():
        if name not in new.fields:
            sentence = field_sentence(loc, name, rule)
            out.append(Change("less", loc.text("diff.field_removed", stream=st, sentence=sentence)))
    return out


def _header_changes(old: Stream, new: Stream, loc: Locale) -> list[Change]:
    out: list[Change] = []
    st = new.name
    for header, action in new.headers.items():
        before = old.headers.get(header)
        sentence = header_sentence(loc, header, action, new.header_patterns.get(header))
        if before is None:
            out.append(Change("more", loc.text("diff.header_added", stream=st, sentence=sentence)))
        elif before != action or old.header_patterns.get(header) != new.header_patterns.get(header):
            direction = _rank_direction(HEADER_PROTECTION[before], HEADER_PROTECTION[action])
            old_sentence = header_sentence(loc, header, before, old.header_patterns.get(header))
            text = loc.text(_RULE_KEYS[direction], stream=st, old=old_sentence, new=sentence)
            out.append(Change(direction, text))
    for header, action in old.headers.items():
        if header not in new.headers:
            sentence = header_sentence(loc, header, action, old.header_patterns.get(header))
            out.append(Change("less", loc.text("diff.header_removed", stream=st, sentence=sentence)))
    return out


def _retention_changes(old: Stream, new: Stream, loc: Locale) -> list[Change]:
    out: list[Change] = []
    st = new.name
    ro, rn = old.retention, new.retention
    if rn.days != ro.days:
        key = "diff.retention_longer" if rn.days > ro.days else "diff.retention_shorter"
        direction: Direction = "more" if rn.days > ro.days else "less"
        out.append(Change(direction, loc.text(key, stream=st, old=loc.span(ro.days), new=loc.span(rn.days))))
    if (ro.subject, ro.counted_from) != (rn.subject, rn.counted_from):
        days = loc.span(rn.days)
        if rn.subject is None:
            out.append(Change("less", loc.text("diff.basis_record", stream=st, days=days)))
        else:
            subject = loc.text(f"subject.{rn.subject}")
            text = loc.text("diff.basis_last_visit", stream=st, days=days, subject=subject)
            out.append(Change("more", text))
    if rn.purpose != ro.purpose:
        out.append(Change("more", loc.text("diff.purpose", stream=st, old=ro.purpose, new=rn.purpose)))
    if rn.legal_basis != ro.legal_basis:
        old_basis, new_basis = loc.legal_text(ro.legal_basis), loc.legal_text(rn.legal_basis)
        out.append(Change("more", loc.text("diff.legal_basis", stream=st, old=old_basis, new=new_basis)))
    return out


def _gate_and_event_changes(old: Stream, new: Stream, loc: Locale) -> list[Change]:
    out: list[Change] = []
    st = new.name
    if old.consent_gated != new.consent_gated:
        gate: Direction = "less" if new.consent_gated else "more"
        out.append(
            Change(gate, loc.text("diff.gate_added" if new.consent_gated else "diff.gate_removed", stream=st))
        )
    added = [e for e in EVENT_ORDER if e in new.events - old.events]
    removed = [e for e in EVENT_ORDER if e in old.events - new.events]
    if added:
        out.append(Change("more", loc.text("diff.events_added", stream=st, events=events_phrase(loc, added))))
    if removed:
        out.append(
            Change("less", loc.text("diff.events_removed", stream=st, events=events_phrase(loc, removed)))
        )
    return out


def _compare(name: str, old: FieldRule, new: FieldRule) -> Direction:
    """Whether ``new`` protects the field less (``more`` for the person), more, or alike."""
    ranks = PROTECTION[name]
    if old.action != new.action:
        return _rank_direction(ranks[old.action], ranks[new.action])
    if new.action == "truncate":
        o = (old.options["ipv4_prefix"], old.options["ipv6_prefix"])
        n = (new.options["ipv4_prefix"], new.options["ipv6_prefix"])
        return _set_direction(o, n)
    if new.action == "allowlist":
        oa, na = set(old.options["allow"]), set(new.options["allow"])
        ov, nv = set(old.options["values"]), set(new.options["values"])
        if oa == na and ov == nv:
            return "same"  # another shape for a kept value
        if na >= oa and nv >= ov:
            return "more"
        if na <= oa and nv <= ov:
            return "less"
        return "more"  # some parameters in, some out: something new is recorded
    return "same"  # e.g. another session cookie name


def _set_direction(old: tuple[int, int], new: tuple[int, int]) -> Direction:
    """Longer prefixes keep more of the address: ``more`` if either grows."""
    if any(n > o for o, n in zip(old, new, strict=True)):
        return "more"
    return "less"


def _rank_direction(old: int, new: int) -> Direction:
    if new > old:
        return "more"
    if new < old:
        return "less"
    return "same"


def _export_changes(old: Policy, new: Policy, loc: Locale) -> list[Change]:
    out: list[Change] = []
    if old.export.sink != new.export.sink:
        (sentence, *_) = recipients(loc, new.export.sink, None, None)
        gained = _RECIPIENTS[new.export.sink] - _RECIPIENTS[old.export.sink]
        if gained:
            out.append(Change("more", loc.text("diff.recipient_added", sentence=sentence)))
        else:
            out.append(Change("less", loc.text("diff.recipients_changed", sentence=sentence)))
    if new.metrics_stream and not old.metrics_stream:
        (_, sentence) = recipients(loc, new.export.sink, None, new.metrics_stream)
        out.append(Change("more", loc.text("diff.metrics_added", sentence=sentence)))
    elif old.metrics_stream and not new.metrics_stream:
        out.append(Change("less", loc.text("diff.metrics_removed")))
    if any(s.keyed for s in new.streams):
        out += _key_changes(old, new, loc)
    return out


def _key_changes(old: Policy, new: Policy, loc: Locale) -> list[Change]:
    rotation_old, rotation_new = _rotation(old), _rotation(new)
    if rotation_old == rotation_new or not any(s.keyed for s in old.streams):
        return []
    sentence = loc.text(f"keys.rotation_{rotation_new}")
    direction = _rank_direction(_LINKABLE[rotation_old], _LINKABLE[rotation_new])
    key = {
        "more": "diff.keys_linkable_longer",
        "less": "diff.keys_linkable_shorter",
        "same": "diff.keys_changed",
    }
    return [Change(direction, loc.text(key[direction], sentence=sentence))]


def _rotation(policy: Policy) -> str:
    if policy.key_store is None:
        return policy.rotation
    from .._keys.store import KeyStore

    return KeyStore.load(policy.key_store, policy.hash_algorithm).rotation


def render_diff(result: PolicyDiff, loc: Locale) -> str:
    """The changes as lines a reviewer reads in a CI log."""
    if not result.changes:
        return loc.text("diff.unchanged") + "\n"
    lines = [loc.text("diff.heading")]
    for c in result.changes:
        lines.append(f"  {loc.text(f'diff.{c.direction}')}: {c.text}")
    lines.append("")
    lines.append(loc.text("diff.update" if result.needs_update else "diff.unchanged"))
    return "\n".join(lines) + "\n"
