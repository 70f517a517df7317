"""Policy compilation: a validated :class:`Policy` becomes plain functions, once.

Each stream compiles to a tuple of *steps*, small closures that each write one or a few
attributes; processing a capture runs the steps in a loop (structlog's processor chain).
No step parses configuration, compiles a regex or reads the environment.
"""

from __future__ import annotations

import logging
from typing import Any

from .._keys.epochs import KeyShredded
from .._policy.catalogue import CLIENT_HEADERS, FIELDS, OPT_OUT_HEADERS
from .._policy.model import Policy
from .._policy.types import Stream
from .._transforms.shapes import make_shape
from .capture import Capture, Facts
from .record import Attributes, IsoFormatter, Output
from .steps import Step, StepContext, extra_step, field_step, kept_header, keyed_header, subject_step

log = logging.getLogger("privlog")

AUTH_EVENTS = frozenset({"login_success", "login_failure", "logout", "password_reset", "password_change"})
_EVENT_NAMES = {"http": "http.request", "websocket": "websocket.session"}
_new_tuple = tuple.__new__


class CompiledStream:
    """One stream's steps and tags, ready to turn facts into a record."""

    def __init__(self, stream: Stream, ctx: StepContext) -> None:
        self.name = stream.name
        self.events = stream.events
        self.consent_gated = stream.consent_gated
        self.retention_days = stream.retention.days
        steps = [step for n, rule in stream.fields.items() if (step := field_step(n, rule, ctx))]
        for header, action in stream.headers.items():
            attr = f"http.request.header.{header}"
            if action == "keep":
                shape = make_shape(stream.header_patterns[header])
                steps.append(kept_header(header.encode(), attr, shape, ctx.rejected))
            else:
                steps.append(keyed_header(header.encode(), attr, ctx.keyed(action, f"header:{header}")))
        subject = stream.retention.subject
        if subject is not None:
            steps.append(subject_step(subject, stream.fields[subject], ctx))
        steps.append(extra_step)
        self.steps: tuple[Step, ...] = tuple(steps)
        self.tags: dict[str, Any] = {
            "privlog.stream": stream.name,
            "privlog.retention.class": stream.retention.name,
            "privlog.retention.days": stream.retention.days,
            "privlog.purpose": stream.retention.purpose,
            "privlog.legal_basis": stream.retention.legal_basis,
        }
        if subject is not None:  # absent: the period counts from each record's own time
            self.tags["privlog.retention.from"] = stream.retention.counted_from
        self.uses_key = stream.keyed and ctx.keys is not None
        specs = [FIELDS[n] for n in stream.fields]
        self.needs_client = any(spec.needs_client for spec in specs)
        self.wanted = (
            frozenset(h for spec in specs for h in spec.headers)
            | frozenset(h.encode() for h in stream.headers)
            | (frozenset(CLIENT_HEADERS) if self.needs_client else frozenset())
            | (frozenset(OPT_OUT_HEADERS) if stream.consent_gated else frozenset())
        )
        self._ttl_ns = stream.retention.days * 86_400 * 1_000_000_000
        self._ring_tags: tuple[Any, dict[str, Any]] = (None, self.tags)
        self._expiry_iso = IsoFormatter().__call__  # bound: cheaper to call than the instance

    def record(self, facts: Facts, capture: Capture) -> Output | None:
        """The record of this capture for this stream, or None if the stream does not take it."""
        if self.consent_gated and opted_out(facts):
            return None
        if self.uses_key and facts.ring is None:
            return None
        attrs: Attributes = {"event.name": _EVENT_NAMES.get(capture.kind, capture.kind)}
        for step in self.steps:
            step(facts, capture, attrs)
        attrs["privlog.retention.expires_at"] = self._expiry_iso(capture.start_ns + self._ttl_ns)
        tags = self.tags
        if self.uses_key:
            ring = facts.ring
            tags_ring, tags = self._ring_tags
            if tags_ring is not ring:
                tags = self._tags_for(ring)
        attrs.update(tags)  # last: no step writes a tag's name, so they stay the final entries
        # tuple.__new__: a NamedTuple's own __new__ is Python code, and this runs per record.
        return _new_tuple(Output, (self.name, self.retention_days, capture.start_ns, attrs, tags))

    def _tags_for(self, ring: Any) -> dict[str, Any]:
        """The tags of records keyed by ``ring``: the stream's tags and the ring's key id."""
        tags = {**self.tags, "privlog.key_id": ring.key_id}
        self._ring_tags = (ring, tags)  # swapped whole: records come in epoch order
        return tags


def opted_out(facts: Facts) -> bool:
    """``Sec-GPC: 1`` or ``DNT: 1``: the user declined tracking, so gated streams skip them."""
    h = facts.headers
    return h.get(b"sec-gpc", "").strip() == "1" or h.get(b"dnt", "").strip() == "1"


class Pipeline:
    """A compiled policy: turns a :class:`Capture` into one record per stream that takes it."""

    def __init__(self, policy: Policy, *, warm: bool = True) -> None:
        """``warm=False`` builds the user-agent parser at the first user agent, not now."""
        self.policy = policy
        ctx = StepContext(policy, warm)
        self.keys = ctx.keys
        #: Values left out for not fitting their declared shape (see Stats.rejected).
        self.rejected = ctx.rejected
        self.streams = tuple(CompiledStream(s, ctx) for s in policy.streams)
        self._resolve = ctx.resolve_client if any(s.needs_client for s in self.streams) else None
        self.wanted_headers: frozenset[bytes] = frozenset().union(*(s.wanted for s in self.streams))
        self.kinds = frozenset().union(*(s.events for s in self.streams))
        self._keyed = any(s.uses_key for s in self.streams)
        self.unkeyed = 0
        """Captures that keyed streams skipped: no key covers their time (clock skew)."""

    def ring_for(self, start_ns: int) -> Any:
        """The key ring of a record's epoch, or None if its key is gone (counted and warned)."""
        keys = self.keys
        if keys is None:
            return None
        try:
            return keys.ring_for(start_ns)
        except KeyShredded as exc:
            if self._keyed:  # keyed streams skip the record: counted and warned, never silent
                self.unkeyed += 1
                if self.unkeyed == 1 or self.unkeyed % 10_000 == 0:
                    log.warning(
                        "privlog: %d record(s) skipped by keyed streams: %s (clock skew? see docs/keys.md)",
                        self.unkeyed,
                        exc,
                    )
            return None

    def process(self, capture: Capture) -> list[Output]:
        """All records of one capture. Runs in the background worker."""
        facts = capture.reader(capture.source, self.wanted_headers) if capture.reader is not None else Facts()
        if self.keys is not None:
            facts.ring = self.ring_for(capture.start_ns)
        if self._resolve is not None:
            h = facts.headers
            facts.client = self._resolve(facts.peer, h.get(b"forwarded"), h.get(b"x-forwarded-for"))
        out = []
        for stream in self.streams:
            if capture.kind in stream.events:
                rec = stream.record(facts, capture)
                if rec is not None:
                    out.append(rec)
        return out

