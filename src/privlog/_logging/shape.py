"""A policy as it applies to the text of log lines: one stream's rules, compiled once.

A server's access line holds the same facts as privlog's record of the request (client
address, request line, referrer, user agent, headers), so it gets the same treatment as the
record of one stream: what the stream does not record is ``-``, what it records is transformed
by the stream's action (the client address truncated, hashed or Crypto-PAn'd with the key ring
of the moment), query strings keep only their allow-listed names, never a raw value the
stream does not keep. Free text in other messages goes through the text scrubber, whose
addresses get the same action.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from .._core.pipeline import Pipeline
from .._core.steps import MAX_TEXT
from .._errors import PolicyError, did_you_mean
from .._keys.epochs import KeyShredded
from .._keys.ring import KeyRing
from .._policy.types import Stream
from .._transforms.address import format_ip, make_truncate, parse_ip
from .._transforms.freetext import AddressAction, TextScrubber, make_text_scrubber, scrub_traceback
from .._transforms.shapes import make_shape
from .._transforms.text import make_query_filter, origin, scrub_path

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
_MAX_PATH = 2048
_MINUTE_NS = 60_000_000_000
#: Response headers a server writes about the body; any other (Set-Cookie, Location) is hidden.
_SAFE_RESPONSE_HEADERS = frozenset({"content-length", "content-type", "content-encoding"})
_PATH_IN_TEXT = re.compile(r"(?<=[\s'\"(\[=])/[^\s'\"<>()\[\]]*")
_VERSION = re.compile(r"(?:HTTP/)?\d(?:\.\d)?|ws")


def choose_stream(pipeline: Pipeline, name: str | None) -> Stream:
    """The stream whose rules shape log lines: ``name``, else the first that logs requests."""
    streams = pipeline.policy.streams
    if name is not None:
        for s in streams:
            if s.name == name:
                return s
        names = [s.name for s in streams]
        raise PolicyError("stream", f"no stream named {name!r}", did_you_mean(name, names))
    return next((s for s in streams if "http" in s.events), streams[0])


class LogShaper:
    """How one stream shapes the parts of a log line. ``LogShaper()`` knows no policy: it
    hides every address, drops query strings, referrers and user agents, scrubs paths."""

    def __init__(self, pipeline: Pipeline | None = None, stream: Stream | None = None) -> None:
        fields = stream.fields if stream is not None else {}
        # Headers kept as they are, each with the shape its values must fit (else ``-``).
        self._headers: dict[str, Callable[[str], str | None]] = (
            {
                name: make_shape(stream.header_patterns[name])
                for name, action in stream.headers.items()
                if action == "keep" and name in stream.header_patterns
            }
            if stream is not None
            else {}
        )
        self._address = _address_transform(pipeline, fields.get("client_ip"))
        self.keeps_port = "client_port" in fields
        path = fields.get("path")
        self._path: Callable[[str], str] = (
            (lambda p: "-")
            if path is None and stream is not None
            else (lambda p: p[:_MAX_PATH])
            if path is not None and path.action == "keep"
            else scrub_path
        )
        query = fields.get("query")
        self._query = (
            None if query is None else make_query_filter(query.options["allow"], query.options["values"])
        )
        referrer = fields.get("referrer")
        self._referrer: Callable[[str], str] = (
            (lambda v: "-")
            if referrer is None
            else origin
            if referrer.action == "origin"
            else (lambda v: v[:MAX_TEXT])
        )
        agent = fields.get("user_agent")
        self._agent_action = None if agent is None else agent.action
        self._agent: Any = None
        self.text: TextScrubber = make_text_scrubber(self._address or None)
        self._server_text = make_server_scrubber(self.text, self.message_target)

    def address(self, packed: bytes) -> str:
        """A packed client address as the stream records it (``-`` if it does not)."""
        return self._address(packed) if self._address is not None else "-"

    def client(self, text: str, with_port: bool = False) -> str | None:
        """A client address as a server prints it (``ip``, or ``ip:port`` with ``with_port``,
        IPv6 unbracketed as uvicorn and hypercorn write it); None if it is no address."""
        text = text.strip()
        if not text or text == "-":
            return text or "-"
        port = ""
        packed = None if with_port else parse_ip(text)
        if packed is None:
            host, sep, port = text.rpartition(":")
            if not (sep and port.isdecimal()):
                return None
            packed = parse_ip(host)
            if packed is None:
                return None
        shaped = self.address(packed)
        return f"{shaped}:{port}" if port and self.keeps_port and shaped != "-" else shaped

    def target(self, text: str) -> str:
        """``/path?query`` with the path scrubbed and only the allow-listed query kept."""
        path, sep, query = text.partition("?")
        shaped = self._path(path)
        if sep and self._query is not None:
            kept = self._query(query.encode("utf-8", "replace"))[0]
            if kept:
                return f"{shaped}?{kept}"
        return shaped

    def message_target(self, text: str) -> str:
        """A path in a message (``Not Found: /users/4711``, a file the server names): scrubbed
        whatever the stream's path rule, with only the allow-listed query kept."""
        path, sep, query = text.partition("?")
        shaped = scrub_path(path)
        if sep and self._query is not None:
            kept = self._query(query.encode("utf-8", "replace"))[0]
            if kept:
                return f"{shaped}?{kept}"
        return shaped

    def query(self, text: str) -> str:
        """A bare query string (gunicorn's ``%(q)s``) as the stream keeps it, else ``-``."""
        kept = self._query(text.encode("utf-8", "replace"))[0] if self._query is not None and text else None
        return kept or "-"

    def method(self, text: str) -> str:
        return text if text in _METHODS else "_OTHER"

    def request_line(self, text: str) -> str | None:
        """``GET /path?q HTTP/1.1`` shaped; None if ``text`` is not a request line."""
        method, sep, rest = text.partition(" ")
        target, sep2, version = rest.rpartition(" ")
        if not (sep and sep2) or not _VERSION.fullmatch(version) or not method.isupper():
            return None
        return f"{self.method(method)} {self.target(target)} {version}"

    def referrer(self, text: str) -> str:
        return "-" if not text or text == "-" else self._referrer(text)

    def user_agent(self, text: str) -> str:
        """The user agent as the stream records it: ``Firefox 133 (Linux, desktop)``."""
        action = self._agent_action
        if action is None or not text or text == "-":
            return "-"
        if action == "keep":
            return text[:MAX_TEXT]
        if self._agent is None:
            from .._transforms.useragent import UserAgentGeneraliser

            self._agent = UserAgentGeneraliser()
        family, major, os_family, device = self._agent(text)
        return f"{family}{' ' + major if major else ''} ({os_family}, {device})"

    def header(self, name: str, value: str) -> str:
        """A request header: kept only if the stream keeps it and it fits its shape; else ``-``."""
        shape = self._headers.get(name)
        kept = shape(value[:MAX_TEXT]) if shape is not None else None
        return "-" if kept is None else kept

    def response_header(self, name: str, value: str) -> str:
        return value if name in _SAFE_RESPONSE_HEADERS else "-"

    def server_text(self, text: str) -> str:
        """A server's message: the text scrubber plus request paths (`` /users/4711``)."""
        return self._server_text(text)

    def traceback(self, text: str) -> str:
        return scrub_traceback(text, self._server_text)


def make_server_scrubber(text: TextScrubber, target: Callable[[str], str]) -> TextScrubber:
    """Scrubs a server's free text: a request path in it (after a space, quote or bracket,
    as in ``Exception on /users/4711 [GET]``) is shaped like the request's, the rest as text."""

    def shape(m: re.Match[str]) -> str:
        return target(m[0])

    sub = _PATH_IN_TEXT.sub

    def scrub_server_text(value: str) -> str:
        return text(sub(shape, value) if "/" in value else value)

    return scrub_server_text


def _address_transform(pipeline: Pipeline | None, rule: Any) -> AddressAction | None:
    """The stream's client-address action as a function of packed addresses, or None."""
    if rule is None or pipeline is None:
        return None
    if rule.action == "truncate":
        return make_truncate(rule.options["ipv4_prefix"], rule.options["ipv6_prefix"])
    if rule.action == "keep":
        return format_ip
    keys = pipeline.keys
    if keys is None:  # a keyed action without keys is refused by the policy; be safe anyway
        return None
    action = rule.action
    # The ring of the moment, looked up once a minute; swapped whole, as threads share it.
    state: tuple[int, Callable[[bytes], str] | None] = (-1, None)

    def keyed_address(packed: bytes) -> str:
        nonlocal state
        now = time.time_ns()
        minute, fn = state
        if minute != now // _MINUTE_NS:
            try:
                ring: KeyRing | None = keys.ring_for(now)
            except KeyShredded:
                ring = None
            fn = None if ring is None else ring.keyed(action, "client_ip")
            state = (now // _MINUTE_NS, fn)
        return "{ip}" if fn is None else fn(packed)

    return keyed_address
