"""Generalisers: turn a value that could single a person out into a coarser, safe one.

Regexes are compiled at import; every function here is pure and total: odd input gives a
placeholder, never an exception and never the odd input itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from urllib.parse import unquote_plus

_MAX_PATH = 2048
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_DIGITS = re.compile(r"\d+")
_DIGIT_RUN = re.compile(r"\d{3,}")
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~+=]{16,}")
_HAS_DIGIT = re.compile(r"\d")
_SAFE_SEGMENT = re.compile(r"[\x21-\x7e]*")  # printable ASCII, no spaces
_LANG = re.compile(r"[A-Za-z]{1,8}")
_ORIGIN = re.compile(
    r"([A-Za-z][A-Za-z0-9+.\-]{0,15})://(?:[^/?#@]*@)?([A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:\d{1,5})?(?:[/?#]|$)"
)


def scrub_segment(segment: str) -> str:
    """One path segment with identifiers replaced by placeholders."""
    if not segment:
        return segment
    if "@" in segment:
        return "{email}"
    if _DIGITS.fullmatch(segment):
        return "{id}"
    if _UUID.fullmatch(segment):
        return "{uuid}"
    if not _SAFE_SEGMENT.fullmatch(segment):
        return "{invalid}"
    if len(segment) > 64:
        return "{long}"
    if _TOKEN.fullmatch(segment) and _HAS_DIGIT.search(segment):
        return "{token}"
    if _UUID.search(segment):
        segment = _UUID.sub("{uuid}", segment)
    return _DIGIT_RUN.sub("{n}", segment)


@functools.lru_cache(maxsize=4096)
def scrub_path(path: str) -> str:
    """A path with numbers, UUIDs, emails and long tokens replaced, for unrouted requests.

    Cached: the same paths come again and again (and once per stream).
    """
    if len(path) > _MAX_PATH:
        path = path[:_MAX_PATH]
    return "/".join(scrub_segment(s) for s in path.split("/"))


@functools.lru_cache(maxsize=1024)
def origin(referrer: str) -> str:
    """Scheme, host and port of a URL; credentials, path and query are dropped."""
    match = _ORIGIN.match(referrer)
    if match is None:
        return "invalid"
    scheme, host, port = match.groups()
    return f"{scheme.lower()}://{host.lower()}{port or ''}"


@functools.lru_cache(maxsize=256)
def primary_language(accept_language: str) -> str:
    """The primary language subtag of the first preference: ``de-DE,de;q=0.9`` gives ``de``."""
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip()
    if first == "*" or not first:
        return "*"
    primary = first.split("-", 1)[0]
    return primary.lower() if _LANG.fullmatch(primary) else "invalid"


def make_query_filter(allow: Sequence[str], values: Sequence[str]) -> Callable[[bytes], str | None]:
    """Keep only allow-listed parameter names; keep values only for those in ``values``."""
    allowed = frozenset(allow)
    with_value = frozenset(values)

    @functools.lru_cache(maxsize=1024)
    def filter_query(query: bytes) -> str | None:
        if not query:
            return None
        kept = []
        text = query.decode("latin-1")
        for part in text.split("&")[:256]:
            raw_name, sep, raw_value = part.partition("=")
            name = unquote_plus(raw_name)
            if name not in allowed:
                continue
            if name in with_value and sep:
                value = unquote_plus(raw_value)[:256]
                kept.append(f"{name}={value}")
            else:
                kept.append(name)
        return "&".join(kept) if kept else None

    return filter_query
