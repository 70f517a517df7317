"""Free text (a log line that does not parse, an error message): addresses, emails, tokens out.

Used where no field structure tells what a piece of text is. Every address found is handed to
the caller's function (the stream's ``client_ip`` action: truncated, hashed, Crypto-PAn, or
``{ip}``); emails, credentials after ``Bearer``/``Basic``, query strings and token-like words
become placeholders. Over-scrubbing is the safe mistake: a version number that looks like an
address is treated as one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .address import parse_ip
from .text import _is_token

AddressAction = Callable[[bytes], str]
"""Maps a packed address (4 or 16 bytes) to the text written in its place."""

_FREE = re.compile(
    r"(?P<email>[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)"
    r"|(?P<cred>(?i:bearer|basic|digest|token)[ =:]+)[A-Za-z0-9._~+/=\-]{4,}"
    r"|(?P<query>\?[^\s\"'<>\\]+)"
    r"|(?P<v6>[0-9A-Fa-f]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)"
    r"|(?P<v4>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})"
    r"|(?P<word>[A-Za-z0-9_\-.~+]{16,})"
)
_V6_HEAD = re.compile(r"[0-9A-Fa-f]{5,}:")  # a first group too long: hex text glued to an address


def _v6(text: str) -> tuple[int, int, bytes] | None:
    """Where in an IPv6-looking run an address is: the run itself, or it without glued text."""
    packed = parse_ip(text)
    if packed is not None:
        return 0, len(text), packed
    start = len(text) - len(text.lstrip(":"))
    end = len(text.rstrip(":."))
    head = _V6_HEAD.match(text, start)
    if head is not None:
        start = head.end() - 5  # keep the last four hex digits of the glued group
    if start == 0 and end == len(text):
        return None
    packed = parse_ip(text[start:end]) if end > start else None
    return (start, end, packed) if packed is not None else None


def make_free_text_scrubber() -> Callable[[str, AddressAction], str]:
    """``scrub(text, address)``: ``text`` with addresses, emails, credentials and tokens replaced."""

    def scrub(text: str, address: AddressAction) -> str:
        def replace(match: re.Match[str]) -> str:
            kind = match.lastgroup
            found = match[0]
            if kind == "v4":
                packed = parse_ip(found)
                return found if packed is None else address(packed)
            if kind == "v6":
                where = _v6(found)
                if where is None:
                    return found
                start, end, packed = where
                return found[:start] + address(packed) + found[end:]
            if kind == "word":
                return "{token}" if _is_token(found) else found
            if kind == "email":
                return "{email}"
            if kind == "cred":
                return match["cred"] + "{token}"
            return "?{query}"

        return _FREE.sub(replace, text)

    return scrub


scrub_free_text = make_free_text_scrubber()
