"""OTLP protobuf wire encoding of privlog's records, written by hand.

The SDK path builds an SDK log record, a readable record and protobuf messages for every
record before serialising them. privlog's records are flat dicts of scalars whose tag
attributes repeat in every record of a stream, so writing the wire format directly, with the
encoded bytes of repeated key/value pairs cached, costs an order of magnitude less CPU.

Field numbers follow opentelemetry-proto: ``collector/logs/v1/logs_service.proto``,
``logs/v1/logs.proto``, ``common/v1/common.proto`` and ``resource/v1/resource.proto``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from .._core.record import HEADER_PREFIX, Output
from ._summary import body, duration_text, http_head, http_line, http_severity, severity

_MASK64 = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_Q = struct.Struct("<Q").pack
_D = struct.Struct("<d").pack

_SEVERITY_NUMBER = b"\x10"  # LogRecord.severity_number = 2
_SEVERITY_TEXT = b"\x1a"  # LogRecord.severity_text = 3
_TIME = b"\x09"  # LogRecord.time_unix_nano = 1, fixed64
_OBSERVED = b"\x59"  # LogRecord.observed_time_unix_nano = 11, fixed64
_BODY = b"\x2a"  # LogRecord.body = 5
_EVENT_NAME = b"\x62"  # LogRecord.event_name = 12 (the collector's ClickHouse EventName column)
_ATTR = b"\x32"  # LogRecord.attributes = 6


def _varint_slow(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = tuple(_varint_slow(i) for i in range(2048))


def varint(n: int) -> bytes:
    """Base-128 varint of a non-negative int (lengths, uint64 values)."""
    return _SMALL[n] if n < 2048 else _varint_slow(n)


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates: protobuf strings must be valid UTF-8
        return text.encode("utf-8", "replace")


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def any_value(value: Any) -> bytes | None:
    """The AnyValue message of one value, or None for None (the attribute is left out, as the SDK does).

    Ints outside int64 are sent as their decimal string so that nothing is silently truncated.
    """
    if isinstance(value, str):
        return _field(b"\x0a", _utf8(value))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return b"\x18" + varint(value & _MASK64)
        return _field(b"\x0a", str(value).encode())
    if isinstance(value, float):
        return b"\x21" + _D(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _field(b"\x3a", bytes(value))
    if value is None:
        return None
    if isinstance(value, (list, tuple)):  # ArrayValue = 5 { repeated AnyValue values = 1 }
        items = [_field(b"\x0a", v or b"") for v in map(any_value, value)]
        return _field(b"\x2a", b"".join(items))
    if isinstance(value, Mapping):  # KeyValueList = 6 { repeated KeyValue values = 1 }
        return _field(b"\x32", b"".join(_field(b"\x0a", key_value(str(k), v)) for k, v in value.items()))
    return _field(b"\x0a", _utf8(str(value)))


def key_value(key: str, value: Any) -> bytes:
    """A KeyValue message: key = 1, value = 2."""
    encoded = any_value(value)
    head = _field(b"\x0a", _utf8(key))
    return head if encoded is None else head + _field(b"\x12", encoded)


def _str_head(key_head: bytes, n: int) -> bytes:
    """LogRecord.attributes field of an ``n``-byte str value, up to the value's bytes."""
    any_len = n + 1 + len(varint(n))
    kv_len = len(key_head) + 1 + len(varint(any_len)) + any_len
    return b"".join((_ATTR, varint(kv_len), key_head, b"\x12", varint(any_len), b"\x0a", varint(n)))


def _header_head(key_head: bytes, n: int) -> bytes:
    """LogRecord.attributes field of an ``n``-byte header value sent as a list of one string
    (AnyValue.array_value = 5 { values = 1 { string_value = 1 } }), up to the value's bytes."""
    inner = 1 + len(varint(n)) + n
    array = 1 + len(varint(inner)) + inner
    any_len = 1 + len(varint(array)) + array
    kv_len = len(key_head) + 1 + len(varint(any_len)) + any_len
    return b"".join(
        (_ATTR, varint(kv_len), key_head, b"\x12", varint(any_len), b"\x2a", varint(array), b"\x0a", varint(inner), b"\x0a", varint(n))
    )


def _float_head(key_head: bytes) -> bytes:
    """LogRecord.attributes field of a float value, up to its 8 bytes."""
    return b"".join((_ATTR, varint(len(key_head) + 11), key_head, b"\x12\x09\x21"))


def _attribute(key_head: bytes, value: Any) -> bytes:
    """LogRecord.attributes field of any value (b"" for None: the attribute is left out)."""
    if type(value) is str:
        data = _utf8(value)
        return _str_head(key_head, len(data)) + data
    if type(value) is float:
        return _float_head(key_head) + _D(value)
    encoded = any_value(value)
    if encoded is None:
        return b""
    any_len = len(encoded)
    kv_len = len(key_head) + 1 + len(varint(any_len)) + any_len
    return b"".join((_ATTR, varint(kv_len), key_head, b"\x12", varint(any_len), encoded))


def _severity(level: tuple[int, str]) -> bytes:
    """The severity_number and severity_text fields of a level, as the SDK sink sends them."""
    return _SEVERITY_NUMBER + varint(level[0]) + _field(_SEVERITY_TEXT, level[1].encode())


def _text_body(text: bytes) -> bytes:
    """LogRecord.body = AnyValue { string_value = 1 }."""
    return _field(_BODY, _field(b"\x0a", text))


def _other_head(attrs: Mapping[str, Any]) -> bytes:
    """Severity, body and event name of a record that is not an HTTP request (rare: not cached)."""
    name = attrs.get("event.name")
    out = _severity(severity(attrs)) + _text_body(_utf8(body(attrs)))
    return out + _field(_EVENT_NAME, _utf8(name)) if type(name) is str else out


class LogEncoder:
    """Encodes batches of :class:`Output` into one ExportLogsServiceRequest.

    One resource and one scope ("privlog") hold the whole batch. Three caches keep the CPU per
    record low, each bounded by ``cache_size`` entries (emptied when full):

    - the encoded attribute field of each (key, value) pair with a str, int or bool value, so a
      stream's methods, routes and status codes are encoded once;
    - for keys whose values keep missing that cache (ids, hashes, timestamps: *volatile* keys),
      the bytes before the value, per value length, so a unique value costs one ``encode``;
    - the encoded block of a record's ``tags`` (the stream's retention tags, the same dict object
      in every record of a stream and key epoch), which the pipeline puts last in ``attributes``;
    - per (method, route, status) of HTTP records, the severity and event-name fields and the
      start of the body line (``_summary``), so a record adds only its duration's text.
    """

    def __init__(
        self, resource: Mapping[str, Any], scope_name: str, scope_version: str = "", cache_size: int = 4096
    ) -> None:
        attrs = b"".join(_field(b"\x0a", key_value(k, v)) for k, v in resource.items())
        self._resource = _field(b"\x0a", attrs)  # ResourceLogs.resource = 1 { attributes = 1 }
        scope = _field(b"\x0a", _utf8(scope_name))
        if scope_version:
            scope += _field(b"\x12", _utf8(scope_version))
        self._scope = _field(b"\x0a", scope)  # ScopeLogs.scope = 1 { name = 1, version = 2 }
        self._cache: dict[tuple[Any, ...], bytes] = {}
        self._cache_size = cache_size
        self._keys: dict[str, bytes] = {}  # key -> encoded KeyValue.key field
        self._misses: dict[str, int] = {}  # cache misses per key since the cache was emptied
        self._volatile: set[str] = set()  # keys whose values rarely repeat: not cached
        self._volatile_after = max(16, cache_size // 16)
        self._prefixes: dict[tuple[str, int], bytes] = {}  # (volatile key, value length) -> head
        self._blocks: dict[int, tuple[Mapping[str, Any], bytes]] = {}  # id(tags) -> (tags, block)
        self._heads: dict[tuple[Any, ...], tuple[bytes, bytes, bytes]] = {}  # see _http_head

    def _key_head(self, key: str) -> bytes:
        key_head = self._keys.get(key)
        if key_head is None:
            if len(self._keys) >= self._cache_size:
                self._keys.clear()
            key_head = self._keys[key] = _field(b"\x0a", _utf8(key))
        return key_head

    def _prefix(self, key: str, n: int) -> bytes:
        """The attribute field of ``key`` up to its value's bytes: ``n`` bytes of str, or -1 for a float."""
        key_head = self._key_head(key)
        if len(self._prefixes) >= self._cache_size:
            self._prefixes.clear()
        if n < 0:
            head = _float_head(key_head)
        elif key.startswith(HEADER_PREFIX):  # a list of strings, as the semantic conventions say
            head = _header_head(key_head, n)
        else:
            head = _str_head(key_head, n)
        self._prefixes[(key, n)] = head
        return head

    def _miss(self, key: str, value: Any) -> bytes:
        """Encode a pair the cache did not have, and cache it unless its key is volatile."""
        kind = type(value)
        encoded: bytes
        if kind is str:
            data = _utf8(value)
            encoded = (self._prefixes.get((key, len(data))) or self._prefix(key, len(data))) + data
        else:
            encoded = _attribute(self._key_head(key), value)
            if kind is not int and kind is not bool:
                return encoded
        if key in self._volatile:
            return encoded
        misses = self._misses[key] = self._misses.get(key, 0) + 1
        if misses > self._volatile_after:
            if len(self._volatile) >= self._cache_size:
                self._volatile.clear()
            self._volatile.add(key)
            return encoded
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
            self._misses.clear()
        self._cache[(key, value, kind)] = encoded
        return encoded

    def _block(self, tags: Mapping[str, Any]) -> bytes:
        """The attribute fields of a record's tags, encoded once per tags object."""
        found = self._blocks.get(id(tags))
        if found is not None and found[0] is tags:
            return found[1]
        block = b"".join(_attribute(self._key_head(k), v) for k, v in tags.items())
        if len(self._blocks) >= 64:
            self._blocks.clear()
        self._blocks[id(tags)] = (tags, block)  # holding tags keeps its id from being reused
        return block

    def _http_head(self, key: tuple[Any, ...], name: str) -> tuple[bytes, bytes, bytes]:
        """For an HTTP record's (method, target, status, incomplete): its severity and event-name
        fields, the start of its body line, and its whole body field when it has no duration."""
        method, path, status, _, incomplete = key
        head = _utf8(http_head(method, path, status))
        fixed = _severity(http_severity(status, incomplete is True)) + _field(_EVENT_NAME, _utf8(name))
        bare = _text_body(_utf8(http_line(head.decode(), "", name)))
        if len(self._heads) >= 1024:
            self._heads.clear()
        found = self._heads[key] = (fixed, head, bare)
        return found

    def encode(self, records: Sequence[Output], observed_ns: int) -> bytes:
        """The serialised request. ``observed_ns``: when privlog handed the batch to the exporter."""
        fixed = _OBSERVED + _Q(observed_ns)
        heads_get = self._heads.get
        cache = self._cache
        cache_get = cache.get
        volatile = self._volatile
        prefix_get = self._prefixes.get
        miss = self._miss
        parts: list[bytes] = []
        append = parts.append
        size = len(self._scope)
        for rec in records:
            attrs = rec.attributes
            name = attrs.get("event.name")
            fields = [_TIME + _Q(rec.timestamp_ns & _MASK64) + fixed]
            add = fields.append
            if name == "http.request":  # severity, body and event name: see _summary
                route = attrs.get("http.route")
                status = attrs.get("http.response.status_code")
                outcome = (  # the status's type too: False == 0 and True == 1, but not in the line
                    attrs.get("http.request.method"),
                    attrs.get("url.path") if route is None else route,
                    status,
                    type(status),
                    attrs.get("privlog.incomplete"),
                )
                try:
                    found = heads_get(outcome) or self._http_head(outcome, name)
                except TypeError:  # an unhashable value: not from privlog's pipeline
                    add(_other_head(attrs))
                else:
                    add(found[0])
                    tail = duration_text(attrs.get("http.server.request.duration"))
                    if tail:
                        head = found[1]
                        n = len(head) + len(tail)
                        add(_BODY + varint(n + 1 + len(varint(n))) + b"\x0a" + varint(n))
                        add(head)
                        add(tail.encode())
                    else:
                        add(found[2])
            else:
                add(_other_head(attrs))
            tags = rec.tags
            items: Iterable[tuple[str, Any]] = attrs.items()
            if tags is not None and len(tags) <= len(attrs):
                items = islice(items, len(attrs) - len(tags))
            for key, value in items:
                kind = type(value)
                if kind is float:  # durations: never repeat, never cached
                    add(prefix_get((key, -1)) or self._prefix(key, -1))
                    add(_D(value))
                    continue
                if kind is str and key in volatile:  # a unique value: skip the cache
                    try:  # _utf8, inlined: this is the loop every attribute goes through
                        data = value.encode()
                    except UnicodeEncodeError:
                        data = value.encode("utf-8", "replace")
                    add(prefix_get((key, len(data))) or self._prefix(key, len(data)))
                    add(data)
                    continue
                try:
                    encoded = cache_get((key, value, kind))
                except TypeError:  # an unhashable value (a list): encoded below, uncached
                    encoded = None
                add(encoded if encoded is not None else miss(key, value))
            if tags is not None and len(tags) <= len(attrs):
                add(self._block(tags))
            payload = b"".join(fields)
            head = b"\x12" + varint(len(payload))  # ScopeLogs.log_records = 2
            append(head)
            append(payload)
            size += len(head) + len(payload)
        scope_logs = b"\x12" + varint(size)  # ResourceLogs.scope_logs = 2
        resource_logs = len(self._resource) + len(scope_logs) + size
        return b"".join(
            [b"\x0a", varint(resource_logs), self._resource, scope_logs, self._scope, *parts]
        )  # ExportLogsServiceRequest.resource_logs = 1


def rejected_records(response: bytes) -> int:
    """``partial_success.rejected_log_records`` of an ExportLogsServiceResponse; 0 if absent or unreadable."""
    try:
        inner = _find(response, 1, 2)  # partial_success = 1, a message
        if inner is None:
            return 0
        count = _find(inner if isinstance(inner, bytes) else b"", 1, 0)  # rejected_log_records = 1, int64
        return count if isinstance(count, int) else 0
    except (IndexError, ValueError):
        return 0


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _find(data: bytes, number: int, wire: int) -> int | bytes | None:
    """The last occurrence of field ``number`` with wire type ``wire`` (0 varint, 2 bytes)."""
    pos, found = 0, None
    value: int | bytes
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        kind = tag & 7
        if kind == 0:
            value, pos = _read_varint(data, pos)
        elif kind == 2:
            length, pos = _read_varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif kind in (1, 5):
            pos += 8 if kind == 1 else 4
            continue
        else:
            raise ValueError("unsupported wire type")
        if tag >> 3 == number and kind == wire:
            found = value
    if pos > len(data):
        raise ValueError("truncated")
    return found
