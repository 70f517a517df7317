"""One sentence per field, action, option, header and event kind, in the reader's words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from .._policy.types import FieldRule, Stream
from .locale import Locale

#: The order events are named in: as a visitor meets them.
EVENT_ORDER = ("http", "websocket", "auth")

#: Above these prefixes a truncated address still points to one connection (or a handful).
_ANONYMOUS_PREFIX = {4: 24, 6: 48}


def field_sentence(loc: Locale, name: str, rule: FieldRule) -> str:
    """What one allow-listed field puts in the log, with its options filled in."""
    key = f"field.{name}.{rule.action}"
    opts = rule.options
    if name == "client_ip" and rule.action == "truncate":
        v4, v6 = int(opts.get("ipv4_prefix", 24)), int(opts.get("ipv6_prefix", 48))
        anonymous = v4 <= _ANONYMOUS_PREFIX[4] and v6 <= _ANONYMOUS_PREFIX[6]
        return loc.text(
            key,
            ipv4=_address_part(loc, v4, 32, 8),
            ipv6=_address_part(loc, v6, 128, 16),
            effect=loc.text("address.anonymous" if anonymous else "address.identifying"),
        )
    if name == "query":
        allow = [loc.quote(n) for n in opts.get("allow", [])]
        if not allow:
            return loc.text("field.query.allowlist_none")
        shapes = opts.get("values", {})
        values = [
            loc.text("field.query.value_shape", name=loc.quote(n), shape=shape_phrase(loc, shapes[n]))
            if isinstance(shapes, Mapping)
            else loc.quote(n)
            for n in shapes
        ]
        kept = (
            loc.text("field.query.values", names=loc.join(values))
            if values
            else loc.text("field.query.values_none")
        )
        return loc.text(key, names=loc.join(allow), values=kept)
    if name == "session_id":
        return loc.text(key, cookie=loc.quote(str(opts.get("cookie", "session"))))
    return loc.text(key)


def _address_part(loc: Locale, prefix: int, total: int, group: int) -> str:
    """``its first two of four parts`` (or bits, when the prefix does not end on a part)."""
    if prefix == 0:
        return loc.text("address.none")
    if prefix == total:
        return loc.text("address.full")
    if prefix % group == 0:
        return loc.text("address.parts" if total == 32 else "address.groups", n=loc.number(prefix // group))
    return loc.text("address.bits", bits=prefix, total=total)


def shape_phrase(loc: Locale, shape: str | Sequence[str]) -> str:
    """The declared shape of a kept value: ``a whole number of up to six digits``, ``one of "a" or "b"``."""
    if isinstance(shape, str):
        return loc.text(f"shape.{shape}")
    return loc.text("shape.choices", choices=loc.join([loc.quote(c) for c in shape], "or"))


def header_sentence(loc: Locale, header: str, action: str, pattern: str | Sequence[str] | None = None) -> str:
    shape = shape_phrase(loc, pattern) if pattern is not None else ""
    return loc.text(f"header.{action}", header=loc.quote(header), shape=shape)


def events_phrase(loc: Locale, events: Iterable[str]) -> str:
    wanted = set(events)
    return loc.join([loc.text(f"event.{e}") for e in EVENT_ORDER if e in wanted])


def stream_title(loc: Locale, stream: Stream) -> str:
    name = stream.name.replace("_", " ").replace("-", " ")
    title = loc.text("doc.stream_heading", name=name)
    return title[:1].upper() + title[1:]


def stream_items(loc: Locale, stream: Stream) -> list[str]:
    """The bullet list of a stream: one sentence per field, then per header."""
    items = [field_sentence(loc, name, rule) for name, rule in stream.fields.items()]
    items += [header_sentence(loc, h, a, stream.header_patterns.get(h)) for h, a in stream.headers.items()]
    return [i[:1].upper() + i[1:] for i in items]


def collector_host(environ: Mapping[str, str]) -> str | None:
    """The host the OTLP exporter sends logs to, from the standard variables, if one is set."""
    for var in ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        url = environ.get(var)
        if url:
            try:
                host = urlsplit(url if "//" in url else f"//{url}").hostname
            except ValueError:
                continue
            if host:
                return host
    return None


def recipients(loc: Locale, sink: str, host: str | None, metrics_stream: str | None) -> list[str]:
    """Where records go: the local store, the exporter's host, and the anonymous counts."""
    where = loc.text("sink.host_known", host=host) if host else loc.text("sink.host_unknown")
    out = [loc.text(f"sink.{sink}", host=where)]
    if metrics_stream:
        out.append(loc.text("sink.metrics", name=metrics_stream))
    return out


def key_sentences(
    loc: Locale, actions: set[str], algorithm: str, rotation: str, shred_after_days: int | None
) -> list[str]:
    """Who can re-identify a pseudonym and how rotation and shredding make old ones unlinkable."""
    out = []
    if actions & {"hash", "pseudonymise"}:
        out.append(loc.text("keys.hash", algorithm=loc.text(f"keys.algorithm_{algorithm}")))
    if "reversible" in actions:
        out.append(loc.text("keys.reversible"))
    if "cryptopan" in actions:
        out.append(loc.text("keys.cryptopan"))
    out.append(loc.text(f"keys.rotation_{rotation}"))
    if shred_after_days is not None:
        out.append(loc.text("keys.store", days=loc.days(shred_after_days)))
    return out


def keyed_actions(streams: Iterable[Stream], keyed: Iterable[str]) -> set[str]:
    """The keyed actions a set of streams uses, on fields or headers."""
    keyed = frozenset(keyed)
    found: set[str] = set()
    for s in streams:
        found |= {r.action for r in s.fields.values() if r.action in keyed}
        found |= {a for a in s.headers.values() if a in keyed}
    return found
