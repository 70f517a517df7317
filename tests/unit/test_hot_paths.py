"""The per-request helpers written for speed give what their plain versions give.

``pick_headers`` skips ``lower()`` for names already in lower case, and the JSONL line reuses
the bytes of the timestamp's second: hypothesis compares each with the obvious version.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from privlog._core.record import Output, iso_utc
from privlog.asgi import pick_headers
from privlog.sinks.jsonl import record_line

# Header names: either case, digits, punctuation, a non-ASCII byte (which lower() leaves alone).
_NAME = st.binary(min_size=0, max_size=6).map(lambda b: bytes(c % 128 if c % 3 else c for c in b)) | st.sampled_from(
    [b"x-forwarded-for", b"X-Forwarded-For", b"FORWARDED", b"user-agent", b"User-Agent", b"123", b"-", b"\xc4", b""]
)


def plain_pick(raw: list[tuple[bytes, bytes]], wanted: frozenset[bytes]) -> dict[bytes, str]:
    """The obvious version: lower every name, first value wins, proxy headers joined."""
    out: dict[bytes, str] = {}
    for name, value in raw:
        name = name.lower()
        if name not in wanted:
            continue
        text = value[:8192].decode("latin-1")
        if name in out:
            if name in (b"x-forwarded-for", b"forwarded"):
                out[name] += "," + text
            continue
        out[name] = text
    return out


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(st.tuples(_NAME, st.binary(max_size=20)), max_size=12),
    wanted=st.frozensets(_NAME.map(bytes.lower), max_size=5),
)
def test_pick_headers_matches_lowering_every_name(raw: list[tuple[bytes, bytes]], wanted: frozenset[bytes]) -> None:
    assert pick_headers(raw, wanted) == plain_pick(raw, wanted)


def test_pick_headers_reads_mixed_case_names_and_nothing_unwanted() -> None:
    raw = [(b"User-Agent", b"ua"), (b"x-forwarded-for", b"1.2.3.4"), (b"X-Forwarded-For", b"5.6.7.8"), (b"cookie", b"c")]
    assert pick_headers(raw, frozenset({b"user-agent", b"x-forwarded-for"})) == {
        b"user-agent": "ua",
        b"x-forwarded-for": "1.2.3.4,5.6.7.8",
    }
    assert pick_headers(raw, frozenset()) == {}


_ATTRS = st.dictionaries(
    st.text(max_size=8), st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=8)), max_size=5
)


@settings(max_examples=300, deadline=None)
@given(
    stamps=st.lists(st.integers(0, 4_102_444_800 * 10**9), min_size=1, max_size=6).map(sorted),
    attrs=_ATTRS,
)
def test_a_jsonl_line_is_the_timestamp_then_the_attributes(stamps: list[int], attrs: dict[str, Any]) -> None:
    for ns in stamps:  # in time order, as records come, so the cached second is reused and replaced
        line = record_line(Output("s", 7, ns, attrs))
        assert line == b'{"timestamp":"' + iso_utc(ns).encode() + b'"' + (b"," + orjson.dumps(attrs)[1:] if attrs else b"}")
        decoded = orjson.loads(line)
        assert list(decoded) == ["timestamp", *(k for k in attrs if k != "timestamp")]
