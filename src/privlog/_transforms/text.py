"""Generalisers: turn a value that could single a person out into a coarser, safe one.

Regexes are compiled at import; every function here is pure and total: odd input gives a
placeholder, never an exception and never the odd input itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from urllib.parse import quote, unquote, unquote_plus

from .address import parse_ip

_MAX_PATH = 2048
_MAX_SEGMENT = 64
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_DIGITS = re.compile(r"\d+")
#: Digits in groups (``2024123``, ``06-12-34-56-78``, ``01.02.85``, ``10.0.0.1``).
_DIGIT_GROUPS = re.compile(r"\d+(?:[-._ ]\d+)*")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-.~+]{16,}")
_HAS_DIGIT = re.compile(r"\d")
_HEX = re.compile(r"[0-9a-fA-F]+")
_CASE_CHANGE = re.compile(r"(?=[a-z][A-Z]|[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z]+")
_PLAIN_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")  # lower case, Capitalised or CAPITALS
_CAPS_RUN = re.compile(r"[A-Z]{5,}[a-z]|[a-z][A-Z]{5,}")
_SAFE_SEGMENT = re.compile(r"[\x21-\x7e]*")  # printable ASCII, no spaces
#: Parameter separators inside a segment (``;jsessionid=...``, ``a,b``); kept as they are.
_PARAM_SEPARATORS = re.compile(r"([;,=])")
#: Something that may be an IPv6 address inside a longer piece of text.
_IPV6_LIKE = re.compile(r"[0-9A-Fa-f]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*")
_PLACEHOLDER = re.compile(r"\{(?:email|ip|id|uuid|token|long|invalid|n)\}")
_LANG = re.compile(r"[A-Za-z]{2,3}")
_ORIGIN = re.compile(
    r"([A-Za-z][A-Za-z0-9+.\-]{0,15})://(?:[^/?#@]*@)?([A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:\d{1,5})?(?:[/?#]|$)"
)


def _is_token(text: str) -> bool:
    """Looks like a generated secret: 16+ token characters that are not readable words.

    That is: a digit among them, or only hex letters, or mixed case within words changing at
    least three times (``QwErTy...``), or a run of five capitals touching lower case. Readable
    words are lower case, capitalised or all capitals (``user-profile``, ``Getting-Started``,
    ``README``); camelCase of 16+ characters is taken for a token, which is the safe mistake.
    A random 22-character ``secrets.token_urlsafe(16)`` passes for readable about once in
    100,000 draws.
    """
    if not _TOKEN_CHARS.fullmatch(text):
        return False
    if _HAS_DIGIT.search(text) or _HEX.fullmatch(text):
        return True
    changes = sum(len(_CASE_CHANGE.findall(w)) for w in _WORD.findall(text) if not _PLAIN_WORD.fullmatch(w))
    return changes >= 3 or _CAPS_RUN.search(text) is not None


def _digit_groups(match: re.Match[str]) -> str:
    groups = _DIGITS.findall(match[0])
    if sum(map(len, groups)) >= 6 or max(map(len, groups)) >= 3 or len(groups) >= 4:
        return "{n}"
    return match[0]  # a version (``v1.2``) or a short number (``2x``)


def _ip_or_text(match: re.Match[str]) -> str:
    return "{ip}" if parse_ip(match[0]) is not None else match[0]


def _scrub_atom(atom: str) -> str:
    """A piece of a segment without separators."""
    if not atom:
        return atom
    if _DIGITS.fullmatch(atom):
        return "{id}"
    if _UUID.fullmatch(atom):
        return "{uuid}"
    if parse_ip(atom) is not None:
        return "{ip}"
    if _is_token(atom):
        return "{token}"
    if _UUID.search(atom):
        atom = _UUID.sub("{uuid}", atom)
    return _DIGIT_GROUPS.sub(_digit_groups, atom)


def _scrub_param(param: str) -> str:
    """A segment's part between ``;``, ``,`` and ``=``: an address, or atoms between colons."""
    if not param:
        return param
    if parse_ip(param) is not None:
        return "{ip}"
    if param.count(":") >= 2:
        param = _IPV6_LIKE.sub(_ip_or_text, param)
    return ":".join(_scrub_atom(atom) for atom in param.split(":"))


def _scrub_text(text: str) -> str:
    if parse_ip(text) is not None:
        return "{ip}"  # a whole address, perhaps with a port: ``[2001:db8::1]:443``
    parts = _PARAM_SEPARATORS.split(text)
    return "".join(p if i % 2 else _scrub_param(p) for i, p in enumerate(parts))


def _percent_decoded(segment: str) -> str | None:
    """``segment`` percent-decoded up to twice; None if a third decoding still changes it."""
    text = unquote(segment)
    if "%" in text:
        text = unquote(text)
        if "%" in text and unquote(text) != text:
            return None
    return text


def scrub_segment(segment: str) -> str:
    """One path segment with identifiers replaced by placeholders.

    Emails, addresses, numbers (also in groups: phone numbers, dates), UUIDs and token-like
    strings are replaced, also inside matrix parameters (``;jsessionid=...``), which are split
    on ``;``, ``,``, ``=`` and ``:``. A percent-encoded segment is decoded (up to twice) for
    the checks; if any matches, only the placeholders are output, never decoded text.
    """
    if not segment:
        return segment
    if "@" in segment:
        return "{email}"
    if _DIGITS.fullmatch(segment):
        return "{id}"
    if not _SAFE_SEGMENT.fullmatch(segment):
        return "{invalid}"
    if len(segment) > _MAX_SEGMENT:
        return "{long}"
    decoded = _percent_decoded(segment) if "%" in segment else segment
    if decoded is None:
        return "{invalid}"  # encoded three times or more: no reason but to hide something
    if decoded == segment:
        return _scrub_text(segment)
    if "@" in decoded:
        return "{email}"
    for text in (decoded, segment):
        scrubbed = _scrub_text(text)
        if scrubbed != text:
            return "".join(_PLACEHOLDER.findall(scrubbed)) or "{invalid}"
    return segment


@functools.lru_cache(maxsize=4096)
def scrub_path(path: str) -> str:
    """A path with numbers, addresses, UUIDs, emails and tokens replaced, for unrouted requests.

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
    """The primary language subtag of the first preference: ``de-DE,de;q=0.9`` gives ``de``.

    Only a two- or three-letter (ISO 639) subtag is given; anything else could be any word a
    client chose (``Accept-Language: jane``), so it gives ``invalid``.
    """
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip()
    if first == "*" or not first:
        return "*"
    primary = first.split("-", 1)[0]
    return primary.lower() if _LANG.fullmatch(primary) else "invalid"


def make_query_filter(allow: Sequence[str], values: Sequence[str]) -> Callable[[bytes], str | None]:
    """Keep only allow-listed parameter names; keep values only for those in ``values``.

    Kept values are percent-encoded again (every reserved character), so a value such as
    ``1&email=jane@example.net`` cannot pass for another parameter in the output.
    """
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
            # Plain ASCII letters and digits decode and re-encode to themselves: skip both.
            name = raw_name if raw_name.isalnum() and raw_name.isascii() else unquote_plus(raw_name)
            if name not in allowed:
                continue
            if name in with_value and sep:
                if raw_value.isalnum() and raw_value.isascii():
                    value = raw_value[:256]
                else:
                    value = quote(unquote_plus(raw_value)[:256], safe="")
                kept.append(f"{name}={value}")
            else:
                kept.append(name)
        return "&".join(kept) if kept else None

    return filter_query
