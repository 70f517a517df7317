"""The extension's JSON strings and ints against orjson's: the same JSONL bytes, byte for byte.

The compiled path finds the bytes to escape (control characters, ``"`` and ``\\``) eight at a
time and copies the clean runs between them in one piece. These properties put an escape at
every position relative to those 8-byte blocks, next to non-ASCII text and at both ends of a
value, and compare the store's files with the Python pipeline's (orjson). Skipped without the
extension.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("privlog_native")

from privlog import Policy

from ..support.native import compare, make_capture
from ..support.policies import policy_dict
from .test_native import SETTINGS

# Every byte JSON must escape, and a few neighbours it must not.
SPECIAL = [chr(c) for c in range(0x20)] + ['"', "\\", "\x7f", " ", "/", "é", "€", "😀"]
# Text without surrogates or non-ASCII digits: either sends the capture back to Python.
TEXT = st.characters(exclude_categories=["Cs", "Nd"])


def policy() -> Policy:
    d: Any = policy_dict(timestamp="keep", status="keep", user_id="keep", path="keep", user_agent="keep")
    return Policy.from_dict(d)


@st.composite
def escaped_texts(draw: st.DrawFn) -> str:
    """A clean run of 0 to 17 characters, then escapes and other text, so that each escape
    falls at each offset of an 8-byte block (and in the tail after the last whole block)."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        parts.append("a" * draw(st.integers(0, 17)))
        parts.append(draw(st.sampled_from(SPECIAL)))
        parts.append(draw(st.text(TEXT, max_size=12)))
    return "".join(parts)


@SETTINGS
@given(st.lists(st.tuples(escaped_texts(), escaped_texts(), escaped_texts()), min_size=1, max_size=6))
def test_escapes_at_every_block_offset_match_orjson(values: list[tuple[str, str, str]]) -> None:
    caps = [
        make_capture({"path": "/" + path, "headers": {b"user-agent": ua}}, user_id=user)
        for user, path, ua in values
    ]
    fallback, failed = compare(policy(), caps)
    assert (fallback, failed) == (0, 0)  # the compiled path wrote every one of them


@SETTINGS
@given(st.lists(st.text(TEXT, max_size=40), min_size=1, max_size=8))
def test_any_text_matches_orjson(values: list[str]) -> None:
    caps = [make_capture({"path": "/x"}, user_id=v) for v in values]
    assert compare(policy(), caps) == (0, 0)


def test_every_control_character_alone_and_in_long_runs() -> None:
    caps = []
    for c in range(0x20):
        for clean in (0, 1, 7, 8, 9, 15, 16, 23):
            caps.append(make_capture({"path": "/p"}, user_id="x" * clean + chr(c) + "y" * (23 - clean)))
        caps.append(make_capture({"path": "/p"}, user_id=chr(c) * 17))
    assert compare(policy(), caps) == (0, 0)


def test_ints_at_the_edges_of_their_digits_and_widths() -> None:
    edges = [0, 1, -1, 9, 10, -10, 99, 100, 2**31, -(2**31), 2**63 - 1, -(2**63)]
    edges += [2**64 - 1, 2**64, -(2**63) - 1]
    edges += [10**k + d for k in range(1, 20) for d in (-1, 0)]
    caps = [make_capture({"path": "/p"}, status=v) for v in edges]
    fallback, failed = compare(policy(), caps)
    assert (fallback, failed) == (2, 0)  # the two orjson refuses: Python's store decides
