"""Free text scrubbing, for log messages: addresses, e-mails, credentials and tokens.

The path scrubber's rules applied to running text: an e-mail becomes ``{email}``, a UUID
``{uuid}``, a generated-looking token ``{token}`` (the path scrubber's own test, so both agree
on what a token is), the credential after ``Bearer``/``Basic`` or after a name such as
``password=`` or ``api_key:`` becomes ``{token}``, and an IPv4 or IPv6 address is handed to
the caller's address transform (the policy's client-address action). Loopback and unspecified
addresses (``127.0.0.1``, ``::1``, ``0.0.0.0``) are never a person's and stay as they are, so
a server's "listening on" line still reads right.

:func:`make_text_scrubber` compiles nothing per call: one regex, built at import, scans the
text once; a text without any candidate costs that scan and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .address import parse_ip

# Shared with the path scrubber, so a token in a path and in a message are the same thing.
from .text import _HEX, _PLAIN_WORD, _UUID, _is_token

AddressTransform = Callable[[bytes], str]
"""Turns a packed address (4 or 16 bytes) into the text to log in its place."""

TextScrubber = Callable[[str], str]
"""Returns the text with every personal value replaced (a text without any: unchanged)."""

_CREDENTIAL_NAMES = (
    r"password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|session|"
    r"cookie|signature|jwt|auth"
)
#: One cheap search (of the lower-cased text) that decides whether a credential can be in it.
_CREDENTIAL_HINT = re.compile("pass|secret|token|key|session|cookie|signature|jwt|auth|bearer|basic|digest")
_AUTH_SCHEMES = r"bearer|basic|digest"
_TOKEN_RUN = r"A-Za-z0-9_\-.~+"  # noqa: S105 - a character class, not a secret
# password=hunter2, "api_key": "x", Authorization: Bearer x, session_id=...
_NAMED = re.compile(
    rf"(?P<name>(?<![\w-])[\w-]*?(?i:{_CREDENTIAL_NAMES})[\w-]*[\"']?\s*[=:]\s*)"
    rf"(?P<scheme>(?i:{_AUTH_SCHEMES})\s+)?(?P<value>\"[^\"]*\"|'[^']*'|[^\s&;,\"'<>(){{}}\[\]]+)"
)
# a credential after its scheme, without a name before it
_SCHEME = re.compile(rf"(?P<bare>\b(?i:{_AUTH_SCHEMES})\s+)(?P<cred>[A-Za-z0-9\-._~+/]+=*)")
# jane.doe@example.org, jane.doe%40example.org
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# anything with two colons that may be an IPv6 address (checked by parsing)
_V6 = re.compile(r"(?<![0-9A-Za-z:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]{2,45}")
_V4 = re.compile(r"(?<![0-9A-Za-z.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)")
_RUN = re.compile(rf"(?<![{_TOKEN_RUN}])[{_TOKEN_RUN}]{{16,}}")
_WORDS = re.compile(r"[A-Za-z]+")
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
#: Lines of a traceback that only name the server's own source files.
_FILE_LINE = re.compile(r"\s*(?:\|\s*)*File \"")


def is_private_to_host(packed: bytes) -> bool:
    """Loopback or unspecified: an address of the machine itself, never of a person."""
    if len(packed) == 4:
        return packed[0] == 127 or packed == b"\x00\x00\x00\x00"
    return packed[:15] == b"\x00" * 15 and packed[15] in (0, 1)


def _placeholder_ip(packed: bytes) -> str:
    return "{ip}"


def make_text_scrubber(address: AddressTransform | None = None) -> TextScrubber:
    """A scrubber whose addresses go through ``address`` (default: ``{ip}``).

    One pass per kind of value, each skipped when a cheap test shows it cannot match, so a
    message without personal data costs those tests and one scan for long runs. The
    addresses come last: what the address action writes (a keyed hash) is not rescanned.
    """
    transform = address or _placeholder_ip

    def shaped_address(text: str) -> str | None:
        packed = parse_ip(text)
        if packed is None:
            return None
        return text if is_private_to_host(packed) else transform(packed)

    def named(m: re.Match[str]) -> str:
        value = m["value"]
        quote = value[0] if value[0] in "\"'" else ""
        return f"{m['name']}{m['scheme'] or ''}{quote}{{token}}{quote}"

    def scheme(m: re.Match[str]) -> str:
        cred = m["cred"]
        if m["bare"][:6].lower() != "bearer" and _PLAIN_WORD.fullmatch(cred):
            return m[0]  # "basic configuration": a word, not a credential
        return m["bare"] + "{token}"

    def run(m: re.Match[str]) -> str:
        text = m[0]
        if _UUID.fullmatch(text):
            return "{uuid}"
        if _is_token(text) and not _camel_words(text):
            return "{token}"
        return _UUID.sub("{uuid}", text) if len(text) >= 32 else text

    def v6(m: re.Match[str]) -> str:
        return _v6(m[0], shaped_address)

    def v4(m: re.Match[str]) -> str:
        found = shaped_address(m[0])
        return m[0] if found is None else found

    email_sub, named_sub, scheme_sub = _EMAIL.sub, _NAMED.sub, _SCHEME.sub
    run_sub, v6_sub, v4_sub = _RUN.sub, _V6.sub, _V4.sub
    hint = _CREDENTIAL_HINT.search

    def scrub_text(text: str) -> str:
        if "@" in text or "%40" in text:
            text = email_sub("{email}", text)
        if hint(text.lower()) is not None:
            text = scheme_sub(scheme, named_sub(named, text))
        if len(text) >= 16:
            text = run_sub(run, text)
        if text.count(":") >= 2:
            text = v6_sub(v6, text)
        if "." in text:
            text = v4_sub(v4, text)
        return text

    return scrub_text


def _camel_words(text: str) -> bool:
    """Letters only, each word camel-cased of real words (``ZeroDivisionError``,
    ``getUserProfileById``): names in messages and tracebacks, which the path scrubber takes
    for tokens. Random letters split into parts of about two letters; words average over 3.5."""
    if any(c.isdigit() for c in text) or _HEX.fullmatch(text):
        return False
    for word in _WORDS.findall(text):
        if _PLAIN_WORD.fullmatch(word):
            continue
        parts = _CAMEL_PART.findall(word)
        if sum(map(len, parts)) != len(word) or len(word) / len(parts) < 3.5:
            return False
    return True


def _v6(text: str, shaped: Callable[[str], str | None]) -> str:
    """An IPv6 candidate: the address, an address and a port (uvicorn's ``::1:5000``), or text."""
    found = shaped(text)
    if found is not None:
        return found
    core = text.rstrip(".:")
    found = shaped(core)
    if found is not None:
        return found + text[len(core) :]
    host, sep, port = core.rpartition(":")
    if sep and port.isdecimal() and ":" in host:
        found = shaped(host)
        if found is not None:
            return f"{found}:{port}{text[len(core) :]}"
    return text


def scrub_traceback(text: str, scrub: TextScrubber) -> str:
    """A formatted traceback with each line scrubbed, except the lines naming source files."""
    return "\n".join(line if _FILE_LINE.match(line) else scrub(line) for line in text.split("\n"))
