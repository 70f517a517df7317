"""Free text (a log line that does not parse, a log message): addresses, emails, tokens out.

Used where no field structure tells what a piece of text is: ``privlog anonymize`` for the lines
it cannot parse, the logging filters for messages and tracebacks. Every address found is handed
to the caller's function (the stream's ``client_ip`` action: truncated, hashed, Crypto-PAn, or
``{ip}``); an email becomes ``{email}``, a UUID ``{uuid}``, a generated-looking word ``{token}``
(the path scrubber's own test, so a token in a path and in a message are the same thing), the
credential after ``Bearer``/``Basic`` or after a name such as ``password=`` or ``"api_key":``
``{token}``, a query string ``?{query}`` where asked. Over-scrubbing is the safe mistake: a
version number that looks like an address is treated as one.

So is one that looks like the start of an address: a line cut short (a writer that died, a
buffer's end) may end inside one, and ``203.0.11`` or ``2001:db8:85a3:8d3:1319:8a2e:37`` still
names a network, often a host. Three dotted numbers up to 255 (not followed by another digit)
and three or more IPv6 groups that do not parse become ``{ip}``, whatever the address action,
since none can shape a part. So ``curl/8.5.0`` reads ``curl/{ip}``; a date (``29.11.2026``) and
a clock time (``16:05:05``, CLF's ``2026:16:05:05``) stay. Two groups (``203.0``) stay too: the
callers that know a line is unfinished drop its last word instead.

One pass per kind of value, each skipped when a cheap test shows it cannot match, so a message
without personal data costs those tests and one scan for long words. Addresses come last, so
what the address action writes (a keyed hash) is not scanned again.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .address import parse_ip
from .text import _HEX, _PIECE, _UUID, _is_token, _readable

AddressAction = Callable[[bytes], str]
"""Maps a packed address (4 or 16 bytes) to the text written in its place."""

TextScrubber = Callable[[str], str]
"""Returns the text with every personal value replaced (a text without any: unchanged)."""

_CREDENTIAL_NAMES = (
    r"password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|session|"
    r"cookie|signature|jwt|auth"
)
_AUTH_SCHEMES = r"bearer|basic|digest|token"
#: One cheap search (of the lower-cased text) that decides whether a credential can be in it.
_CREDENTIAL_HINT = re.compile("pass|secret|token|key|session|cookie|signature|jwt|auth|bearer|basic|digest")
_TOKEN_CHARS = r"A-Za-z0-9_\-.~+"  # noqa: S105 - a character class, not a secret
# password=hunter2, "api_key": "x", Authorization: Bearer x, session_id=...
_NAMED = re.compile(
    rf"(?P<name>(?<![\w-])[\w-]*?(?i:{_CREDENTIAL_NAMES})[\w-]*[\"']?\s*[=:]\s*)"
    rf"(?P<scheme>(?i:{_AUTH_SCHEMES})\s+)?(?P<value>\"[^\"]*\"|'[^']*'|[^\s&;,\"'<>(){{}}\[\]]+)"
)
# a credential after its scheme, without a name before it
_SCHEME = re.compile(rf"(?P<bare>\b(?i:{_AUTH_SCHEMES})[ =:]+)(?P<cred>[A-Za-z0-9\-._~+/]+=*)")
_EMAIL = re.compile(r"[\w.%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_QUERY = re.compile(r"\?[^\s\"'<>\\]+")
_RUN = re.compile(rf"(?<![{_TOKEN_CHARS}])[{_TOKEN_CHARS}]{{12,}}")  # the path scrubber's length
_V6 = re.compile(r"[0-9A-Fa-f]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*")
_V6_HEAD = re.compile(r"[0-9A-Fa-f]{5,}:")  # a first group too long: hex text glued to an address
_V6_LONG = re.compile(r"[0-9A-Fa-f]{5,}")  # any group too long
#: Three or more hex groups in a row that do not parse: the start of an IPv6 address cut short
#: (``2001:db8:85a3:8d3:1319:8a2e:37``), which still names a network and often a host.
_V6_PART = re.compile(r"[0-9A-Fa-f]{1,4}(?::{1,2}[0-9A-Fa-f]{1,4}){2,}")
#: ... unless it reads as a clock time (``16:05:05``, CLF's ``2026:16:05:05``): canonical IPv6
#: text has no leading zeros and seldom only two-digit decimal groups.
_CLOCK = re.compile(r"(?:\d{4}:)?\d{1,2}:[0-5]\d(?::[0-5]\d)?")
_CLOCK_RUN = re.compile(r"(?:\d{4}:)?\d{1,2}:[0-5]\d:[0-5]\d(?:\.\d+)?")  # no address in it
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: Four octets (an address), or three: the start of one cut short (``203.0.11``); either way
#: not followed by a digit, as a longer number (``29.11.2026``, ``1.2.3.456``) is no address.
_V4 = re.compile(rf"(?=\d{{1,3}}\.\d{{1,3}}\.\d){_OCTET}\.{_OCTET}\.{_OCTET}(?:\.{_OCTET})?(?!\d)")
_WORDS = re.compile(r"[A-Za-z]+")
#: Lines of a traceback that only name the server's own source files.
_FILE_LINE = re.compile(r"\s*(?:\|\s*)*File \"")


def is_private_to_host(packed: bytes) -> bool:
    """Loopback or unspecified: an address of the machine itself, never of a person."""
    if len(packed) == 4:
        return packed[0] == 127 or packed == b"\x00\x00\x00\x00"
    return packed[:15] == b"\x00" * 15 and packed[15] in (0, 1)


def _placeholder_ip(packed: bytes) -> str:
    return "{ip}"


def _named(m: re.Match[str]) -> str:
    value = m["value"]
    quote = value[0] if value[0] in "\"'" else ""
    return f"{m['name']}{m['scheme'] or ''}{quote}{{token}}{quote}"


def _scheme(m: re.Match[str]) -> str:
    cred = m["cred"]
    if m["bare"][:6].lower() != "bearer" and cred.isalpha() and _readable(cred):
        return m[0]  # "basic configuration", "token expired": a word, not a credential
    return m["bare"] + "{token}"


def _run(m: re.Match[str]) -> str:
    text = m[0]
    if _UUID.fullmatch(text):
        return "{uuid}"
    if _is_token(text) and not _camel_words(text):
        return "{token}"
    return _UUID.sub("{uuid}", text) if len(text) >= 32 else text


def _camel_words(text: str) -> bool:
    """Letters only, each word camel-cased of readable words (``ZeroDivisionError``,
    ``getUserProfileById``): names in messages and tracebacks, which the path scrubber takes
    for tokens beyond two humps. Random letters split into parts of about two letters, and
    fail the path scrubber's test of a readable word; real words average over 3.5 letters."""
    if any(c.isdigit() for c in text) or _HEX.fullmatch(text):
        return False
    for word in _WORDS.findall(text):
        parts = _PIECE.findall(word)
        if sum(map(len, parts)) != len(word) or len(word) / len(parts) < 3.5:
            return False
        if not all(len(p) <= 2 or _readable(p) for p in parts):
            return False
    return True


def _locate_v6(text: str) -> tuple[int, int, bytes] | None:
    """Where in an IPv6-looking run an address is: the run itself, it without glued text, or
    it without a port (uvicorn writes ``2001:db8::7:51234``)."""
    packed = parse_ip(text)
    if packed is not None:
        return 0, len(text), packed
    triple = text.find(":::")
    if triple >= 0:
        # an address that begins or ends with "::" glued to a colon around it (":::1:",
        # "2001:db8:::"): look on each side of the third colon. "1:::1" reads as "1::" or
        # "::1", so the whole run goes, or what is written back could re-form the other
        finds = []
        for s, e in ((0, triple + 2), (triple + 1, len(text))):
            found = _locate_v6(text[s:e])
            if found is not None:
                finds.append((any(found[2]), found[1] - found[0], found[2]))
        if finds:
            return 0, len(text), max(finds, key=lambda f: f[:2])[2]
    end = len(text.rstrip(":."))
    # without what trails it ("from ::ffff:192.0.2.9.", "2002::.Also"); "::" at its end is its own
    dots = (i for i, c in enumerate(text) if c == ".")
    ends = sorted({*range(end, len(text) + 1), *dots}, reverse=True)
    for e in ends[1:]:
        packed = parse_ip(text[:e]) if e else None
        if packed is not None:
            return 0, e, packed
    start = len(text) - len(text.lstrip(":"))
    head = _V6_HEAD.match(text, start)
    if head is not None:
        start = head.end() - 5  # keep the last four hex digits of the glued group
    for e in ends if start else ():
        if e > start:
            packed = parse_ip(text[start:e])
            if packed is not None:
                return start, e, packed
    host, sep, port = text[start:end].rpartition(":")
    if sep and port.isdecimal() and ":" in host:
        packed = parse_ip(host)
        if packed is not None:
            return start, start + len(host), packed
    return _trimmed_groups(text, start, end)


def _trimmed_groups(text: str, start: int, end: int) -> tuple[int, int, bytes] | None:
    """An address with hex groups glued before or after it (``0:`` + a full address): groups
    dropped from either end, a few at a time, until what is left parses."""
    colons = [i for i in range(start, end) if text[i] == ":"]
    for k in range(1, min(len(colons) - 1, 40)):  # a run holds at most a few addresses
        for s, e in ((colons[k - 1] + 1, end), (start, colons[-k])):
            packed = parse_ip(text[s:e])
            if packed is not None:
                return s, e, packed
    return None


def _v6_part(m: re.Match[str]) -> str:
    return m[0] if _CLOCK.fullmatch(m[0]) else "{ip}"


def _shape_v6(run: str, address: Callable[[bytes], str | None], depth: int = 0) -> str:
    """An IPv6-looking run with its address shaped, and the text on either side of it too:
    addresses glued by colons (``:a::1::b::2:``) are one run."""
    if _CLOCK_RUN.fullmatch(run):
        return run
    where = _locate_v6(run)
    if where is None:
        glued = _V6_LONG.search(run)
        if glued is not None and depth < 4:  # hex glued to a group: an address may end or begin there
            cut = glued.end() - 4
            return _shape_v6(run[:cut], address, depth + 1) + _shape_v6(run[cut:], address, depth + 1)
        return _V6_PART.sub(_v6_part, run)
    start, end, packed = where
    shaped = address(packed)
    if shaped is None:  # the host's own (``::1``): it stays, what is glued to it is looked at
        shaped = run[start:end]
    head, tail = run[:start], run[end:]
    if depth < 4:
        if head.count(":") >= 2:
            head = _shape_v6(head, address, depth + 1)
        if tail.count(":") >= 2:
            tail = _shape_v6(tail, address, depth + 1)
    return head + shaped + tail


def _scrub(text: str, address: Callable[[bytes], str | None], queries: bool) -> str:
    """The passes; ``address`` returns None for an address to leave as it is."""
    if "@" in text or "%40" in text:
        text = _EMAIL.sub("{email}", text)
    if _CREDENTIAL_HINT.search(text.lower()) is not None:
        text = _SCHEME.sub(_scheme, _NAMED.sub(_named, text))
    if queries and "?" in text:
        text = _QUERY.sub("?{query}", text)
    if len(text) >= 12:
        text = _RUN.sub(_run, text)
    if text.count(":") >= 2:

        def v6(m: re.Match[str]) -> str:
            return _shape_v6(m[0], address)

        text = _V6.sub(v6, text)
    if "." in text:

        def v4(m: re.Match[str]) -> str:
            if m[0].count(".") == 2:
                return "{ip}"  # a part of an address: no action can take it, none may keep it
            packed = parse_ip(m[0])
            shaped = None if packed is None else address(packed)
            return m[0] if shaped is None else shaped

        text = _V4.sub(v4, text)
    return text


def make_text_scrubber(
    address: AddressAction | None = None, *, keep_host: bool = True, queries: bool = False
) -> TextScrubber:
    """A scrubber compiled with its address action (default: ``{ip}``), for log messages.

    ``keep_host``: loopback and unspecified addresses (``127.0.0.1``, ``::1``, ``0.0.0.0``)
    stay, so a server's "listening on" line still reads right. ``queries``: query strings
    become ``?{query}`` (the logging filters shape them by the policy's allow-list instead).
    """
    transform = address or _placeholder_ip

    def shaped(packed: bytes) -> str | None:
        return None if keep_host and is_private_to_host(packed) else transform(packed)

    def scrub_text(text: str) -> str:
        return _scrub(text, shaped, queries)

    return scrub_text


def make_free_text_scrubber() -> Callable[[str, AddressAction], str]:
    """``scrub(text, address)``: every address to ``address``, query strings replaced."""

    def scrub(text: str, address: AddressAction) -> str:
        return _scrub(text, address, True)

    return scrub


scrub_free_text = make_free_text_scrubber()


def scrub_traceback(text: str, scrub: TextScrubber) -> str:
    """A formatted traceback with each line scrubbed, except the lines naming source files."""
    return "\n".join(line if _FILE_LINE.match(line) else scrub(line) for line in text.split("\n"))
