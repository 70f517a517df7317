"""One access log line, parsed: the facts privlog's fields can use, and helpers the formats share."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from .._core.capture import Facts
from .._core.record import Attributes
from .._transforms.address import parse_ip
from .._transforms.freetext import AddressAction

MAX_HEADER = 8192  # what the middleware's readers keep of a header
MAX_LINE = 65_536
"""Longest line read whole (bytes); the rest of a longer line is dropped, the line scrubbed."""

REQUEST_LINE = re.compile(r"([A-Za-z_\-]{1,20}) (\S+)(?: HTTP/(\d(?:\.\d)?))?")
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "v": "\v"}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_CLF_TIME = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")


class LogLine(Facts):
    """What a log line says about one request, unescaped: the :class:`Facts` the middleware
    reads from a request (so the pipeline takes the line as it takes a request), plus what only
    the log holds. None where the line does not say."""

    __slots__ = (
        "_headers",
        "duration_ns",
        "request_bytes",
        "response_bytes",
        "source",
        "status",
        "target",
        "time_ns",
        "user",
        "xff",
    )

    def __init__(self, peer: str | None, time_ns: int | None) -> None:
        headers: dict[bytes, str] = {}
        Facts.__init__(self, None, None, None, None, None, b"", peer, None, headers)
        self._headers = headers
        self.time_ns = time_ns
        self.user: str | None = None
        self.target: str | None = None  # the request target as sent (percent-encoded)
        self.status: int | None = None
        self.request_bytes: int | None = None
        self.response_bytes: int | None = None
        self.xff: str | None = None
        self.duration_ns: int | None = None
        self.source: Any = None  # the format's own parse, for writing the line back

    def set_target(self, target: str) -> None:
        """The request target as sent: the path percent-decoded (as ASGI servers give it), the query raw."""
        self.target = target
        path, sep, query = target.partition("?")
        self.path = unquote(path) if "%" in path else path
        self.query = query.encode("latin-1", "replace") if sep else b""

    def set_header(self, name: bytes, value: str) -> None:
        """A request header the line holds (``user-agent``, ``referer``, ``x-forwarded-for``),
        cut where the middleware's readers cut it."""
        self._headers[name] = value[:MAX_HEADER]
        if name == b"x-forwarded-for":
            self.xff = value


def unescape(text: str) -> str:
    """A log string as the client sent it: nginx's ``\\xHH`` and Apache's ``\\"``/``\\\\`` undone."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(_unescape_one, text)


def _unescape_one(match: re.Match[str]) -> str:
    code = match[1]
    if len(code) == 3:
        return chr(int(code[1:], 16))
    return _SIMPLE_ESCAPES.get(code, code)


class ClfTime:
    """``10/Oct/2000:13:55:36 -0700`` to ns since the epoch; the last one is cached (one per second)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[str, int | None] = ("", None)

    def __call__(self, text: str) -> int | None:
        last_text, ns = self._last
        if text == last_text:
            return ns
        m = _CLF_TIME.fullmatch(text)
        month = _MONTHS.get(m[2]) if m is not None else None
        if m is None or month is None:
            return None
        try:
            local = datetime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6]))
        except ValueError:
            return None
        offset = (int(m[8]) * 3600 + int(m[9]) * 60) * (-1 if m[7] == "-" else 1)
        seconds = int((local - datetime(1970, 1, 1)).total_seconds()) - offset
        ns = seconds * 1_000_000_000
        self._last = (text, ns)
        return ns


def number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) < 19 else None


def user_agent_text(attrs: Attributes) -> str | None:
    """The user agent as one string for a text log: kept as is, or ``Chrome 131 / Windows / desktop``."""
    original = attrs.get("user_agent.original")
    if original is not None:
        return str(original)
    name = attrs.get("user_agent.name")
    if name is None:
        return None
    version = attrs.get("user_agent.version")
    browser = f"{name} {version}" if version is not None else str(name)
    return f"{browser} / {attrs.get('user_agent.os.name', 'Other')} / {attrs.get('privlog.device.class', 'other')}"


def request_target(attrs: Attributes) -> str:
    """The request target of the record: scrubbed path and the allow-listed query."""
    path = attrs.get("url.path", "-")
    query = attrs.get("url.query")
    return f"{path}?{query}" if query else str(path)


def hop(hop: str, address: AddressAction) -> str:
    packed = parse_ip(hop)
    return address(packed) if packed is not None else "-"


def http_version(proto: str | None) -> str | None:
    """``1.1`` for ``HTTP/1.1``, ``2`` for ``HTTP/2.0``: the form ASGI servers report."""
    if proto is None:
        return None
    version = proto[5:] if proto.startswith("HTTP/") else proto
    return version[:-2] if version in ("2.0", "3.0") else version


def iso_ns(value: object) -> int | None:
    """Seconds since the epoch (a number) or an ISO 8601 string, as ns; None if neither."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        whole = int(value)  # apart: a float of ns since the epoch has only ~µs precision left
        return whole * 1_000_000_000 + round((value - whole) * 1_000_000_000)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1000
    return None


#: Caddy response headers passed on (an allow-list: ``Set-Cookie`` and the like never are).
