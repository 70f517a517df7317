"""The compiled batch path: how privlog drives the optional ``privlog-native`` extension.

The pure-Python :class:`~privlog._core.pipeline.Pipeline` is the reference. This module describes
its compiled policy to the extension once (plain data) and hands it each key epoch's key once.
The extension reads the ASGI middleware's captures itself (as ``privlog._asgi_scope`` reads a
scope, and resolves the client as ``Pipeline.process`` does); any other capture is turned into a
tuple of raw facts here, with its own reader. The extension then makes the records, OTLP bytes
and JSONL lines with the GIL released; any capture it cannot reproduce exactly goes through the
Python pipeline instead, and is counted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from .._asgi_scope import ScopeReader, read_asgi_scope
from .._transforms import useragent as _useragent
from .._transforms.address import _unmapped
from ..sinks._otlp_encode import LogEncoder
from ..sinks.jsonl import record_line
from .capture import Capture, Facts
from .pipeline import _EVENT_NAMES, Pipeline
from .steps import _METHODS, SUBJECT_ATTRIBUTE

if TYPE_CHECKING:
    from privlog_native import Batch, Engine

try:
    import privlog_native as _ext
    from privlog_native._native import AsgiReader
except ImportError:  # the optional extra is not installed: the Python pipeline does it all
    _ext = None  # type: ignore[assignment, unused-ignore]

#: What a call into the extension may raise: any Exception, and a Rust panic, which PyO3
#: raises as ``PanicException``, a BaseException that ``except Exception`` lets through (it
#: would kill the worker thread or reach the app). Callers catch these and fall back to Python.
NATIVE_ERRORS: tuple[type[BaseException], ...] = (Exception,)
if _ext is not None:
    NATIVE_ERRORS += tuple(
        t for t in [getattr(_ext._native, "PanicException", None)] if isinstance(t, type) and issubclass(t, BaseException)
    )

NS_PER_DAY = 86_400 * 1_000_000_000
SUBJECT_EPOCH = -2  # the extension's handle of the last-visit subject key (see batch.rs)
_MAX_EPOCHS = 16  # key epochs held by the extension at once (records come in epoch order)
_UA_FIELDS = attrgetter("regex", "family", "major", "minor", "patch", "patch_minor")
_DEVICE_FIELDS = attrgetter("regex", "regex_flag", "family", "brand", "model")


def available() -> bool:
    """True when the ``privlog-native`` extension is installed."""
    return _ext is not None


def _user_agent_rules() -> dict[str, Any]:
    """The regexes ua-parser's default parser uses, and privlog's rules on its results."""
    import ua_parser

    lazy = ua_parser.RegexResolver is not None or ua_parser.Re2Resolver is not None
    uas, oss, devices = ua_parser.load_lazy_builtins() if lazy else ua_parser.load_builtins()
    return {
        "uas": [_UA_FIELDS(m) for m in uas],
        "oss": [_UA_FIELDS(m) for m in oss],
        "devices": [_DEVICE_FIELDS(m) for m in devices],
        "known_bots": dict(_useragent.KNOWN_BOTS),
        "bot_family": _useragent.BOT_FAMILY,
        "tablets": sorted(_useragent._TABLETS),
        "mobile_os": sorted(_useragent._MOBILE_OS),
        "browsers": sorted(_useragent.BROWSER_FAMILIES),
        "oses": sorted(_useragent.OS_FAMILIES),
        "major": _useragent._MAJOR.pattern,
    }


def _shape(spec: Any) -> Any:
    return spec if isinstance(spec, str) else list(spec)


def _options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    if name == "query":
        return {"allow": list(options["allow"]), "values": {n: _shape(s) for n, s in options["values"].items()}}
    return dict(options)


def _utf8(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True


def describe(pipeline: Pipeline) -> dict[str, Any] | None:
    """The compiled policy as plain data for the extension; None if it cannot take it."""
    streams = []
    generalise_ua = False
    for stream, compiled in zip(pipeline.policy.streams, pipeline.streams, strict=True):
        fields = [(name, rule.action, _options(name, rule.options)) for name, rule in stream.fields.items()]
        subject = stream.retention.subject
        cookie = stream.fields[subject].options.get("cookie") if subject is not None else None
        generalise_ua |= any(n == "user_agent" and a == "generalise" for n, a, _ in fields)
        streams.append(
            {
                "name": stream.name,
                "events": sorted(stream.events),
                "consent_gated": stream.consent_gated,
                "uses_key": compiled.uses_key,
                "retention_days": stream.retention.days,
                "fields": fields,
                "headers": [
                    (name, action, _shape(stream.header_patterns[name]) if action == "keep" else None)
                    for name, action in stream.headers.items()
                ],
                "tags": list(compiled.tags.items()),
                # A last-visit subject: the field, and the cookie a session subject is read from.
                "subject": (subject, cookie) if subject is not None else None,
            }
        )
    if not _utf8(streams):  # a name with a lone surrogate: only Python's own errors are right
        return None
    return {
        "streams": streams,
        "methods": sorted(_METHODS),
        "event_names": dict(_EVENT_NAMES),
        "user_agent": _user_agent_rules() if generalise_ua else None,
    }


class NativeBatch(NamedTuple):
    """One batch's result: the extension's records, with the fallback captures filled in."""

    batch: Batch
    #: Captures the extension handed back to Python.
    fallback: int
    #: Captures that failed in Python too (the dispatcher counts them as failed).
    failed: int


def _record_chunk(request: bytes, resource_size: int, scope_size: int) -> bytes:
    """The log-record fields of a one-record request: what follows its resource and scope."""
    pos = 1
    while request[pos] & 0x80:  # ResourceLogs' length
        pos += 1
    pos += 1 + resource_size + 1  # the resource, then ScopeLogs' tag
    while request[pos] & 0x80:  # ScopeLogs' length
        pos += 1
    return request[pos + 1 + scope_size :]


class NativePipeline:
    """A :class:`Pipeline` whose batches go through the extension; Python fills in the rest."""

    def __init__(
        self, pipeline: Pipeline, encoder: LogEncoder | None = None, otlp: bool = True, jsonl: bool = True
    ) -> None:
        if _ext is None:
            raise RuntimeError("privlog-native is not installed")
        description = describe(pipeline)
        if description is None:
            raise ValueError("this policy is not supported by privlog-native")
        self.pipeline = pipeline
        self.encoder = encoder if encoder is not None else LogEncoder({}, "privlog")
        resource, scope = self.encoder._resource, self.encoder._scope
        self.engine: Engine = _ext.Engine(description, resource, scope)
        self._resource_size = len(resource)
        self._scope_size = len(scope)
        self._epochs: dict[int, tuple[Any, int]] = {}  # id(ring) -> (ring, handle)
        self._next_handle = 0
        self._wanted = pipeline.wanted_headers
        self._otlp, self._jsonl = otlp, jsonl
        self._generation = getattr(pipeline.keys, "generation", 0)
        #: The last-visit subject key's ring, as the pipeline's subject steps took it when built.
        subjects = any(s.retention.subject is not None for s in pipeline.policy.streams)
        self._subject_ring = pipeline.keys.subject_ring() if subjects and pipeline.keys is not None else None
        self._subject_held = False
        #: Captures of the last batch whose facts the extension read itself.
        self.read_here = 0
        #: Reads the ASGI middleware's captures in the extension (others through ``facts_of``).
        self.reader = AsgiReader(
            self.engine, ScopeReader, read_asgi_scope, sorted(self._wanted), _resolver(pipeline)
        )

    def _handle(self, ring: Any) -> int:
        """The extension's handle of a key ring; its key crosses over once."""
        found = self._epochs.get(id(ring))
        if found is not None and found[0] is ring:
            return found[1]
        if len(self._epochs) >= _MAX_EPOCHS:
            self.forget_keys()
        handle = self._next_handle
        self._next_handle += 1
        self.engine.add_epoch(handle, ring._master, ring.algorithm, ring.key_id)
        self._epochs[id(ring)] = (ring, handle)
        return handle

    def forget_keys(self) -> None:
        """Drop every key the extension holds (it wipes them); they cross again when needed."""
        for _, handle in self._epochs.values():
            self.engine.forget_epoch(handle)
        self._epochs.clear()
        if self._subject_held:
            self.engine.forget_epoch(SUBJECT_EPOCH)
            self._subject_held = False

    def facts_of(self, capture: Capture, handle: int | None = None) -> tuple[Any, ...]:
        """The raw facts of a capture, read as ``Pipeline.process`` reads them (``handle``: its
        key epoch's, if already found)."""
        pipeline = self.pipeline
        facts = capture.reader(capture.source, self._wanted) if capture.reader is not None else Facts()
        if handle is None:
            ring = pipeline.ring_for(capture.start_ns) if pipeline.keys is not None else None
            handle = -1 if ring is None else self._handle(ring)
        client = None
        if pipeline._resolve is not None:
            h = facts.headers
            client = pipeline._resolve(facts.peer, h.get(b"forwarded"), h.get(b"x-forwarded-for"))
        return (
            capture.kind,
            capture.start_ns,
            capture.duration_ns,
            capture.status,
            capture.request_bytes,
            capture.response_bytes,
            capture.user_id,
            capture.extra,
            facts.method,
            facts.scheme,
            facts.http_version,
            facts.path,
            facts.route,
            facts.query,
            client,
            facts.client_port,
            facts.headers,
            handle,
        )

    def _python_records(
        self, capture: Capture, observed_ns: int
    ) -> list[tuple[str, int, bytes, bytes | None, str | None]]:
        """A capture's records made by the Python pipeline, encoded as the sinks encode them."""
        out = []
        for rec in self.pipeline.process(capture):
            request = self.encoder.encode([rec], observed_ns)
            chunk = _record_chunk(request, self._resource_size, self._scope_size)
            try:
                line: bytes | None = record_line(rec)
            except (TypeError, ValueError, OverflowError):  # the store would refuse the batch
                line = None
            subject = rec.attributes.get(SUBJECT_ATTRIBUTE)
            day = rec.timestamp_ns // NS_PER_DAY
            out.append((rec.stream, day, chunk, line, subject if isinstance(subject, str) else None))
        return out

    def _handles(self, captures: Sequence[Capture]) -> list[int | None] | None:
        """Each capture's key epoch handle (-1: no key covers it; None: finding it failed, as
        ``Pipeline.process`` would), or None when the policy uses no key.

        Key epochs are whole UTC days (or weeks, months): the ring of the last day found serves
        the captures of that day without asking again. A day without a key is asked per
        capture, which counts each one skipped.
        """
        if self.pipeline.keys is None:
            return None
        ring_for, handle = self.pipeline.ring_for, self._handle
        out: list[int | None] = []
        append = out.append
        day_start = day_end = known = 0  # the last day whose ring was found: [start, end)
        for capture in captures:
            start = capture.start_ns
            try:
                if day_start <= start < day_end:
                    append(known)
                    continue
                # Any lookup may re-read the key store (a new day runs its housekeeping, which
                # takes a rotation or shred from another process): the ring found before it
                # serves no capture after it, even when this lookup finds no key.
                day_start = day_end = 0
                ring = ring_for(start)
            except Exception:
                append(None)
            else:
                if ring is None:
                    append(-1)
                else:
                    append(known := handle(ring))
                    day_start = start - start % NS_PER_DAY
                    day_end = day_start + NS_PER_DAY
        return out

    def _keys_changed(self) -> None:
        """Wipe the extension's copies of the keys once the key store shreds or rotates."""
        generation = getattr(self.pipeline.keys, "generation", 0)
        if generation != self._generation:
            self._generation = generation
            self.forget_keys()

    def run(
        self, captures: Sequence[Capture], observed_ns: int, otlp: bool | None = None, jsonl: bool | None = None
    ) -> NativeBatch:
        """Transform and encode a batch (for the OTLP sink, the JSONL store or both); the
        extension works with the GIL released."""
        self._keys_changed()
        ring = self._subject_ring
        if ring is not None and not self._subject_held:  # crosses once, again after a wipe
            self.engine.add_epoch(SUBJECT_EPOCH, ring._master, ring.algorithm, ring.key_id)
            self._subject_held = True
        handles = self._handles(captures)
        otlp = self._otlp if otlp is None else otlp
        batch, failed_at, self.read_here = self.reader.run(
            self.engine, captures if isinstance(captures, list) else list(captures), handles, self.facts_of, observed_ns, otlp, self._jsonl if jsonl is None else jsonl
        )
        failed = set(failed_at)
        self.pipeline.rejected.count += batch.rejected  # the fallback captures count their own
        fallback = batch.fallback
        for i in fallback:
            if i in failed:
                continue
            try:
                batch.fill(i, self._python_records(captures[i], observed_ns))
            except NATIVE_ERRORS:
                failed.add(i)
        self._keys_changed()  # a shred during this batch (the store housekeeps on a new day)
        return NativeBatch(batch, len(fallback) - len(failed), len(failed))



def _resolver(pipeline: Pipeline) -> tuple[list[tuple[int, int]], list[tuple[int, int]], bool] | None:
    """The client resolution as the extension takes it: trusted networks as (network, mask)
    integers per family (IPv4-mapped ones as IPv4) and the proxies' header; None if no stream
    needs the client."""
    if pipeline._resolve is None:
        return None
    policy = pipeline.policy
    networks = [_unmapped(n) for n in policy.trusted_proxies]
    v4 = [(int(n.network_address), int(n.netmask)) for n in networks if n.version == 4]
    v6 = [(int(n.network_address), int(n.netmask)) for n in networks if n.version == 6]
    return v4, v6, policy.proxy_header == "forwarded"


def native_for(pipeline: Pipeline, sinks: Sequence[object]) -> NativePipeline | None:
    """The compiled path for a dispatcher, if it can serve it: the extension is installed and
    not turned off (``PRIVLOG_NATIVE=0``), the policy is supported, and every sink takes
    pre-encoded batches (the JSONL store, at most one fast OTLP sink); else None."""
    if _ext is None or os.environ.get("PRIVLOG_NATIVE", "").strip() == "0" or not sinks:
        return None
    encodings = [getattr(sink, "encoding", None) for sink in sinks]
    if None in encodings or encodings.count("otlp") > 1 or not all(hasattr(s, "write_encoded") for s in sinks):
        return None
    encoder = next((getattr(s, "encoder", None) for s in sinks if getattr(s, "encoding", None) == "otlp"), None)
    if encoder is not None and not isinstance(encoder, LogEncoder):
        return None
    try:
        return NativePipeline(pipeline, encoder, otlp="otlp" in encodings, jsonl="jsonl" in encodings)
    except (ValueError, TypeError):  # a policy the extension does not take
        return None
