"""Generalisers: turn a value that could single a person out into a coarser, safe one.

Regexes are compiled at import; every function here is pure and total: odd input gives a
placeholder, never an exception and never the odd input itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote, unquote, unquote_to_bytes

from .address import parse_ip
from .shapes import Shape

_MAX_PATH = 2048
_MAX_SEGMENT = 64
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_DIGITS = re.compile(r"\d+")
#: Digits in groups (``2024123``, ``06-12-34-56-78``, ``01.02.85``, ``10.0.0.1``).
_DIGIT_GROUPS = re.compile(r"\d+(?:[-._ ]\d+)*")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-.~+]{12,}")
_HAS_DIGIT = re.compile(r"\d")
_LETTER_DIGIT = re.compile(r"(?=[A-Za-z][0-9]|[0-9][A-Za-z])")
_HEX = re.compile(r"[0-9a-fA-F]+")
#: Words between the separators a slug uses (``getting-started``, ``user_profile.html``).
_WORD_SEPARATORS = re.compile(r"[-_.~+]")
#: How people write a word: lower case, Capitalised, CAPITALS, or camelCase of two or three
#: pieces of three letters or more, perhaps with a short acronym at the end
#: (``getUserProfile``, ``parseURL``).
_WORD_CASE = re.compile(
    r"[A-Z]+|[A-Z]?[a-z]+|[A-Za-z][a-z]{2,}(?:[A-Z][a-z]{2,}){1,2}(?:[A-Z]{2,4})?|[A-Za-z][a-z]{2,}[A-Z]{2,4}"
)
#: The pieces of a word: lower case, Capitalised or CAPITALS.
_PIECE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_CASE_CHANGE = re.compile(r"(?=[a-z][A-Z]|[A-Z][a-z])")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
#: Two consonants that can begin an English word (``str``-, ``sch``-, ``thr``- begin so too).
_ONSET = re.compile(
    "(?i:.?[aeiouy]|.$|bl|br|ch|cl|cr|cz|dj|dr|dw|fl|fr|gh|gl|gn|gr|kl|kn|kr|mn|ph|pl|pn|pr|ps|qu|rh|sc|sh"
    "|sk|sl|sm|sn|sp|sq|st|sv|sw|th|tr|ts|tw|vl|wh|wr|zw)"
)
_CONSONANT_RUN = re.compile(r"[^aeiouyAEIOUY]{5}")
#: Letter pairs (either case) found in almost no English word, and in about one random pair
#: in eight: ``jq``, ``vx``, ``zk``...
_RARE_PAIR = re.compile(
    "(?i:"
    "bx|cj|cx|cz|dz|fj|fk|fz|gj|gk|gq|gx|hj|hq|hx|jb|jd|jf|jg|jh|jj|jl|jm|jn|jq|jr|jt|jv|jw|jx|"
    "jy|jz|kj|kx|kz|lq|mj|mq|mx|mz|oq|pj|px|pz|qb|qe|qf|qg|qh|qi|qj|qk|qm|qo|qv|qw|qx|qy|qz|rj|"
    "uj|uq|vd|vj|vk|vq|vx|wj|wq|wz|xg|xj|xk|xq|yj|yq|zb|zg|zh|zj|zk|zn|zp|zq|zv|zw|zx"
    ")"
)
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


def _readable(word: str) -> bool:
    """A word a person wrote: cased as people write (:data:`_WORD_CASE`), and each piece of it
    pronounceable: a vowel, a beginning English allows (:data:`_ONSET`), no run of five
    consonants, no letter pair English hardly uses. Short pieces of a word in one case need
    none of this (``css``, ``HTML``, ``wsgi``, ``https``), nor does a camelCase word's final
    acronym. Random letters fail one of these nearly always (see :func:`_is_token`)."""
    if len(word) == 1:
        return True
    if not _WORD_CASE.fullmatch(word):
        return False
    short = 5 if word.islower() or word.isupper() else 1
    pieces = _PIECE.findall(word)
    last = len(pieces) - 1
    return all(
        len(p) <= short
        or (i == last and i > 0 and p.isupper())
        or (
            _VOWEL.search(p) is not None
            and _ONSET.match(p) is not None
            and _CONSONANT_RUN.search(p) is None
            and _RARE_PAIR.search(p) is None
        )
        for i, p in enumerate(pieces)
    )


def _is_token(text: str) -> bool:
    """Looks like a generated secret: 12+ token characters that are not readable words.

    That is: only hex letters; or letters and digits together, except in one short word in
    one case (``v2``, ``mp4``); or case changing within words beyond camelCase's two humps; or
    a word (between ``-_.~+``) that is not readable (:func:`_readable`). Slugs stay
    (``user-profile``, ``Getting-Started``, ``README``, ``release-notes-2024``); a word that
    fails is taken for a token, the safe mistake (long camelCase is). Of random tokens, a
    ``secrets.token_urlsafe`` one looks readable about once in 1,500 at 12 characters, once in
    15,000 at 16, and none did in 100,000 at 20 or more; base62 and hex ones far less often
    (``tests/unit/test_hostile_input.py``).
    """
    if not _TOKEN_CHARS.fullmatch(text):
        return False
    if _HEX.fullmatch(text):
        return True
    words = [w for w in _WORD_SEPARATORS.split(text) if w]
    if _HAS_DIGIT.search(text):
        # Digits in words of their own (``invoice-2024123``, ``release-2024``), or in one short
        # word in one case (``v2``, ``mp4``); the digits are then replaced by _digit_groups.
        mixed = [w for w in words if _LETTER_DIGIT.search(w)]
        if len(mixed) > 1 or any(len(w) > 4 or not (w.islower() or w.isupper()) for w in mixed):
            return True
        words = [w for w in words if not _HAS_DIGIT.search(w)]
    if sum(len(_CASE_CHANGE.findall(w)) for w in words) >= 3 + sum(1 for w in words if w.istitle()):
        return True  # case changing within words: ``QwErTy``, and camelCase beyond two humps
    return not all(_readable(w) for w in words)


def _digit_groups(match: re.Match[str]) -> str:
    groups = _DIGITS.findall(match[0])
    if sum(map(len, groups)) >= 6 or max(map(len, groups)) >= 3 or len(groups) >= 4:
        return "{n}"
    return match[0]  # a version (``v1.2``) or a short number (``2x``)


def _ip_or_text(match: re.Match[str]) -> str:
    text = match[0]
    if parse_ip(text) is not None:
        return "{ip}"
    # An address glued to other text by colons (``a:::1:2`` is ``a:`` and ``::1:2``): the
    # longest piece that starts and ends at a colon boundary and parses as an address.
    colons = [i for i, c in enumerate(text) if c == ":"]
    cuts = sorted({0, len(text), *colons, *(i + 1 for i in colons)})
    for length in sorted({b - a for a in cuts for b in cuts if b - a > 2}, reverse=True):
        for a in cuts:
            piece = text[a : a + length]
            if a + length in cuts and ":" in piece and parse_ip(piece) is not None:
                return text[:a] + "{ip}" + text[a + length :]
    return text


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
    known = _PLAIN_SEGMENTS
    out = []
    for segment in path.split("/"):
        if segment in known:
            out.append(segment)
            continue
        scrubbed = scrub_segment(segment)
        if scrubbed == segment:
            if len(known) >= _PLAIN_SEGMENTS_MAX:
                known.clear()
            known.add(segment)
        out.append(scrubbed)
    return "/".join(out)


#: Segments that scrub to themselves (``users``, ``orders``, ``app.js``): paths whose ids make
#: every path new (so :func:`scrub_path`'s cache misses) still share these words. Identifiers
#: are never kept here, only words that pass through unchanged anyway.
_PLAIN_SEGMENTS: set[str] = set()
_PLAIN_SEGMENTS_MAX = 4096

#: A host that is an address: an IPv6 literal, or a last label that is a number (no top-level
#: domain is: ``203.0.113.77``, ``3405803853`` and ``0xcb.0.113.77`` all reach an address).
_ADDRESS_HOST = re.compile(r"\[.*|(?:.*\.)?(?:[0-9]+|0x[0-9a-f]*)\.?")
#: A host name that spells an IPv4 address (``203.0.113.77.nip.io``, ``ec2-203-0-113-77.x``).
_EMBEDDED_IPV4 = re.compile(r"(?:^|[.-])[0-9]{1,3}([.-])[0-9]{1,3}\1[0-9]{1,3}\1[0-9]{1,3}(?:$|[.-])")


@functools.lru_cache(maxsize=1024)
def origin(referrer: str) -> str:
    """Scheme, host and port of a URL; credentials, path and query are dropped.

    A host that is or spells an IP address becomes ``{ip}`` (the port stays): a referrer from
    ``http://203.0.113.77:8080`` names a machine, often the visitor's own, not a site.
    """
    match = _ORIGIN.match(referrer)
    if match is None:
        return "invalid"
    scheme, host, port = match.groups()
    host = host.lower()
    if _ADDRESS_HOST.fullmatch(host) or _EMBEDDED_IPV4.search(host):
        host = "{ip}"
    return f"{scheme.lower()}://{host}{port or ''}"


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


def _unquote(raw: str) -> str:
    """A query name or value (the Latin-1 text of its bytes) as the client meant it: ``+`` and
    percent escapes decoded from the raw bytes, then UTF-8 (so raw UTF-8 is encoded once)."""
    if raw.isalnum() and raw.isascii():  # plain letters and digits decode to themselves
        return raw
    return unquote_to_bytes(raw.replace("+", " ").encode("latin-1")).decode("utf-8", "replace")


QueryFilter = Callable[[bytes], tuple["str | None", int]]
"""The kept query (or None) and how many values were dropped for not fitting their shape."""


def make_query_filter(allow: Sequence[str], values: Mapping[str, Shape]) -> QueryFilter:
    """Keep only allow-listed parameter names; keep a value only for a name in ``values``,
    and only when it fits that name's shape (else the name alone, and the value is counted).

    Kept values are percent-encoded again (every reserved character), so a value such as
    ``1&email=jane@example.net`` cannot pass for another parameter in the output.
    """
    allowed = frozenset(allow)
    shapes = dict(values)

    @functools.lru_cache(maxsize=1024)
    def filter_query(query: bytes) -> tuple[str | None, int]:
        if not query:
            return None, 0
        kept = []
        rejected = 0
        for part in query.decode("latin-1").split("&")[:256]:
            raw_name, sep, raw_value = part.partition("=")
            name = _unquote(raw_name)
            if name not in allowed:
                continue
            shape = shapes.get(name)
            if shape is not None and sep:
                value = shape(_unquote(raw_value[:1024]))
                if value is not None:
                    # Plain ASCII letters and digits encode to themselves: skip quote().
                    kept.append(f"{name}={value if value.isalnum() and value.isascii() else quote(value, safe='')}")
                    continue
                rejected += 1
            kept.append(name)
        return ("&".join(kept) if kept else None), rejected

    return filter_query
