"""Web-server access log formats: parse a line into facts, write a line back from a record.

One class per format: nginx's and Apache's ``combined`` (nginx's ``main`` too, which appends
``"$http_x_forwarded_for"``), Caddy's JSON access log, and a user's regex with named groups.
Parsing only reads what privlog's fields can use; writing builds the line from the record the
policy made, so a value the policy does not allow has no way into the output. Text that no
field accounts for (extra trailing fields, the parts of a regex line outside its groups) is
scrubbed as free text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import orjson

from .._core.record import Attributes
from .._errors import PolicyError
from .._transforms.address import parse_ip
from .._transforms.freetext import AddressAction, scrub_free_text

MAX_LINE = 65_536
"""Longest line read whole (bytes); the rest of a longer line is dropped, the line scrubbed."""

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # a quoted log string, with backslash escapes
_COMBINED = re.compile(
    r"(\S+) \S+ (\S+) \[([^\]]*)\] " + _QUOTED + r" (\d{3}|-) (\d+|-)"
    r"(?: " + _QUOTED + " " + _QUOTED + r")?(?: " + _QUOTED + r")?(.*)",
    re.DOTALL,
)
_QUOTED_RE = re.compile(_QUOTED, re.DOTALL)
_REQUEST = re.compile(r"([A-Za-z_\-]{1,20}) (\S+)(?: HTTP/(\d(?:\.\d)?))?")
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "v": "\v"}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_CLF_TIME = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f-\xff]')


class LogLine:
    """What a log line says about one request, unescaped; None where the line does not say."""

    __slots__ = (
        "client_port",
        "duration_ns",
        "http_version",
        "method",
        "path",
        "peer",
        "query",
        "referer",
        "request_bytes",
        "response_bytes",
        "source",
        "status",
        "target",
        "time_ns",
        "user",
        "user_agent",
        "xff",
    )

    def __init__(self, peer: str | None, time_ns: int | None) -> None:
        self.peer = peer
        self.time_ns = time_ns
        self.user: str | None = None
        self.method: str | None = None
        self.target: str | None = None  # the request target as sent (percent-encoded)
        self.path: str | None = None  # percent-decoded, as an ASGI server gives it
        self.query = b""
        self.http_version: str | None = None
        self.status: int | None = None
        self.request_bytes: int | None = None
        self.response_bytes: int | None = None
        self.referer: str | None = None
        self.user_agent: str | None = None
        self.xff: str | None = None
        self.client_port: int | None = None
        self.duration_ns: int | None = None
        self.source: Any = None  # the format's own parse, for writing the line back

    def set_target(self, target: str) -> None:
        self.target = target
        path, sep, query = target.partition("?")
        self.path = unquote(path) if "%" in path else path
        self.query = query.encode("latin-1", "replace") if sep else b""


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


def _nginx_escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match[0]):02X}"


def _apache_escape(match: re.Match[str]) -> str:
    char = match[0]
    return "\\" + char if char in '"\\' else f"\\x{ord(char):02x}"


class _ClfTime:
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


def _xff_field(text: str) -> bool:
    """A trailing quoted field that holds an ``X-Forwarded-For`` value (or ``-``)."""
    if text == "-":
        return True
    hops = text.split(",")
    return len(hops) <= 64 and all(parse_ip(h) is not None for h in hops)


def _number(text: str | None) -> int | None:
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


Scrub = Callable[[str, AddressAction], str]


class CombinedFormat:
    """nginx's and Apache's ``combined`` format (with or without referrer and user agent).

    A quoted field after the user agent holding addresses is taken for nginx's ``main``
    format's ``"$http_x_forwarded_for"``; anything else after the known fields is kept,
    scrubbed as free text. ``escape`` is ``"nginx"`` (``\\x22``) or ``"apache"`` (``\\"``).
    """

    def __init__(self, name: str, escape: str) -> None:
        self.name = name
        self._escape = _nginx_escape if escape == "nginx" else _apache_escape
        self._time = _ClfTime()

    def parse(self, text: str) -> LogLine | None:
        m = _COMBINED.fullmatch(text)
        if m is None:
            return None
        peer, user, time_text, request, status, size, referer, ua, extra, rest = m.groups()
        time_ns = self._time(time_text)
        if time_ns is None:
            return None
        line = LogLine(peer, time_ns)
        line.user = None if user == "-" else unescape(user)
        req = _REQUEST.fullmatch(unescape(request))
        if req is not None:
            line.method = req[1]
            line.set_target(req[2])
            line.http_version = http_version(req[3])
        line.status = _number(status)
        line.response_bytes = 0 if size == "-" else _number(size)
        if referer is not None and referer != "-":
            line.referer = unescape(referer)
        if ua is not None and ua != "-":
            line.user_agent = unescape(ua)
        if extra is not None:
            extra = unescape(extra)
            if _xff_field(extra):
                if extra != "-":
                    line.xff = extra
                extra = None
        line.source = (time_text, referer is not None, extra, rest)
        return line

    def write(self, line: LogLine, attrs: Attributes, address: AddressAction) -> str:
        time_text, has_ua, extra, rest = line.source
        method = attrs.get("http.request.method", "-")
        version = attrs.get("network.protocol.version")
        request = f"{method} {request_target(attrs)}" + (f" HTTP/{version}" if version else "")
        out = (
            f"{attrs.get('client.address', '-')} - {self._quote(attrs.get('user.id'))} [{time_text}] "
            f'"{self._quote(request)}" {attrs.get("http.response.status_code", "-")} '
            f"{attrs.get('http.response.body.size', '-')}"
        )
        if has_ua:
            out += (
                f' "{self._quote(attrs.get("http.request.header.referer"))}"'
                f' "{self._quote(user_agent_text(attrs))}"'
            )
        if line.xff is not None:
            hops = ",".join(_hop(h, address) for h in line.xff.split(","))
            out += f' "{self._quote(hops)}"'
        elif extra is not None:
            out += f' "{self._quote(scrub_free_text(extra, address))}"'
        if rest:
            out += self._scrub_rest(rest, address)
        return out

    def _quote(self, value: object) -> str:
        """A value escaped for the log (in quotes or not): ``-`` if the record has none."""
        if value is None:
            return "-"
        text = str(value)
        if _NEEDS_ESCAPE.search(text) is None:
            return text
        return _NEEDS_ESCAPE.sub(self._escape, text)

    def _scrub_rest(self, rest: str, address: AddressAction) -> str:
        """Fields after the known ones: quoted strings unescaped, scrubbed, escaped again."""
        parts = _QUOTED_RE.split(rest)
        for i, part in enumerate(parts):
            if i % 2:
                parts[i] = '"' + self._quote(scrub_free_text(unescape(part), address)) + '"'
            elif part:
                parts[i] = scrub_free_text(part, address)
        return "".join(parts)


def _hop(hop: str, address: AddressAction) -> str:
    packed = parse_ip(hop)
    return address(packed) if packed is not None else "-"


def http_version(proto: str | None) -> str | None:
    """``1.1`` for ``HTTP/1.1``, ``2`` for ``HTTP/2.0``: the form ASGI servers report."""
    if proto is None:
        return None
    version = proto[5:] if proto.startswith("HTTP/") else proto
    return version[:-2] if version in ("2.0", "3.0") else version


def _iso_ns(value: object) -> int | None:
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
CADDY_RESPONSE_HEADERS = frozenset(
    {"Content-Type", "Content-Length", "Content-Encoding", "Cache-Control", "Server"}
)
_CADDY_TOP = ("level", "ts", "logger", "msg")
_CADDY_TLS = ("resumed", "version", "cipher_suite", "proto", "server_name")


class CaddyFormat:
    """Caddy's JSON access log (``log { format json }``), one object a line.

    Written back with only the keys privlog knows: request headers are reduced to the user
    agent and referrer the policy allows (``Cookie`` and ``Authorization`` never pass),
    response headers to :data:`CADDY_RESPONSE_HEADERS`.
    """

    name = "caddy-json"

    def parse(self, text: str) -> LogLine | None:
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        req = obj.get("request") if isinstance(obj, dict) else None
        time_ns = _iso_ns(obj.get("ts")) if isinstance(req, dict) else None
        if not isinstance(req, dict) or time_ns is None:
            return None
        peer = req.get("remote_ip") or req.get("remote_addr")
        line = LogLine(peer if isinstance(peer, str) else None, time_ns)
        method, uri, proto = req.get("method"), req.get("uri"), req.get("proto")
        line.method = method if isinstance(method, str) else None
        if isinstance(uri, str):
            line.set_target(uri)
        line.http_version = http_version(proto) if isinstance(proto, str) else None
        line.client_port = _number(str(req.get("remote_port", "")))
        headers = req.get("headers")
        if isinstance(headers, dict):
            for key, value in headers.items():
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    continue
                lower = key.lower()
                if lower == "user-agent":
                    line.user_agent = value[0] if value else None
                elif lower == "referer":
                    line.referer = value[0] if value else None
                elif lower == "x-forwarded-for":
                    line.xff = ",".join(value) or None
        status, size, read = obj.get("status"), obj.get("size"), obj.get("bytes_read")
        line.status = status if isinstance(status, int) else None
        line.response_bytes = size if isinstance(size, int) else None
        line.request_bytes = read if isinstance(read, int) else None
        duration = obj.get("duration")
        if isinstance(duration, (int, float)) and not isinstance(duration, bool):
            line.duration_ns = int(duration * 1_000_000_000)
        user = obj.get("user_id")
        line.user = user if isinstance(user, str) and user else None
        line.source = obj
        return line

    def write(self, line: LogLine, attrs: Attributes, address: AddressAction) -> str:
        obj: dict[str, Any] = line.source
        req: dict[str, Any] = obj["request"]
        out: dict[str, Any] = {k: obj[k] for k in _CADDY_TOP if isinstance(obj.get(k), (str, int, float))}
        request: dict[str, Any] = {}
        client = attrs.get("client.address")
        if client is not None:
            request["remote_ip"] = request["client_ip"] = client
        if "client.port" in attrs:
            request["remote_port"] = str(attrs["client.port"])
        version = attrs.get("network.protocol.version")
        if version is not None:
            request["proto"] = f"HTTP/{version}" + (".0" if len(version) == 1 else "")
        if "http.request.method" in attrs:
            request["method"] = attrs["http.request.method"]
        host = req.get("host")
        if isinstance(host, str):
            request["host"] = scrub_free_text(host, address)
        request["uri"] = request_target(attrs)
        headers: dict[str, list[str]] = {}
        ua = user_agent_text(attrs)
        if ua is not None:
            headers["User-Agent"] = [ua]
        if "http.request.header.referer" in attrs:
            headers["Referer"] = [attrs["http.request.header.referer"]]
        if line.xff is not None:
            headers["X-Forwarded-For"] = [",".join(_hop(h, address) for h in line.xff.split(","))]
        request["headers"] = headers
        tls = req.get("tls")
        if isinstance(tls, dict):
            request["tls"] = {
                k: scrub_free_text(v, address) if isinstance(v, str) else v
                for k in _CADDY_TLS
                if isinstance(v := tls.get(k), (str, int, bool))
            }
        out["request"] = request
        for key, attr in (
            ("bytes_read", "http.request.body.size"),
            ("user_id", "user.id"),
            ("duration", "http.server.request.duration"),
            ("size", "http.response.body.size"),
            ("status", "http.response.status_code"),
        ):
            if attr in attrs:
                out[key] = attrs[attr]
        resp = obj.get("resp_headers")
        if isinstance(resp, dict):
            out["resp_headers"] = {k: v for k, v in resp.items() if k in CADDY_RESPONSE_HEADERS}
        return orjson.dumps(out).decode()


#: Group names a ``regex:`` format may use, with the aliases users reach for.
REGEX_GROUPS: Mapping[str, str] = {
    "client": "client",
    "addr": "client",
    "remote_addr": "client",
    "user": "user",
    "time": "time",
    "request": "request",
    "method": "method",
    "target": "target",
    "uri": "target",
    "protocol": "protocol",
    "status": "status",
    "bytes": "bytes",
    "referer": "referer",
    "referrer": "referer",
    "user_agent": "user_agent",
    "ua": "user_agent",
    "xff": "xff",
    "duration": "duration",
}


class RegexFormat:
    """A user's regex with named groups (:data:`REGEX_GROUPS`), matched from the line's start.

    Written back with each group replaced by the record's value and everything outside the
    groups scrubbed as free text.
    """

    def __init__(self, pattern: str) -> None:
        self.name = "regex"
        try:
            self._regex = re.compile(pattern, re.DOTALL)
        except re.error as exc:
            raise PolicyError("--format", f"not a valid regex ({exc})", "fix the pattern") from None
        unknown = sorted(set(self._regex.groupindex) - set(REGEX_GROUPS))
        if unknown:
            raise PolicyError(
                "--format",
                f"unknown group name {unknown[0]!r} in the regex",
                "name groups " + ", ".join(f"(?P<{n}>...)" for n in REGEX_GROUPS),
            )
        if not self._regex.groupindex:
            raise PolicyError("--format", "the regex has no named groups", "add e.g. (?P<client>\\S+)")
        self._groups = [(REGEX_GROUPS[n], n) for n in self._regex.groupindex]
        self._time = _ClfTime()

    def parse(self, text: str) -> LogLine | None:
        m = self._regex.match(text)
        if m is None:
            return None
        found: dict[str, str] = {}
        for kind, name in self._groups:
            value = m.group(name)
            if value is not None:
                found[kind] = value
        time_ns = None
        if "time" in found:
            time_ns = self._time(found["time"]) or _iso_ns(found["time"])
            if time_ns is None:
                return None
        line = LogLine(found.get("client"), time_ns)
        line.user = found.get("user") if found.get("user") not in (None, "-") else None
        request = _REQUEST.fullmatch(found["request"]) if "request" in found else None
        if request is not None:
            line.method, target, proto = request[1], request[2], request[3]
            line.set_target(target)
            line.http_version = http_version(proto)
        if "method" in found:
            line.method = found["method"]
        if "target" in found:
            line.set_target(found["target"])
        if "protocol" in found:
            line.http_version = http_version(found["protocol"])
        line.status = _number(found.get("status"))
        line.response_bytes = _number(found.get("bytes"))
        for kind in ("referer", "user_agent"):
            value = found.get(kind)
            if value is not None and value != "-":
                setattr(line, kind, value)
        xff = found.get("xff")
        line.xff = xff if xff is not None and xff != "-" else None
        duration = found.get("duration")
        if duration is not None:
            try:
                line.duration_ns = int(float(duration) * 1_000_000_000)
            except ValueError:
                line.duration_ns = None
        line.source = (m, found)
        return line

    def write(self, line: LogLine, attrs: Attributes, address: AddressAction) -> str:
        m, found = line.source
        text: str = m.string
        spans = sorted((m.span(name), kind) for kind, name in self._groups if m.span(name)[0] >= 0)
        out: list[str] = []
        at = 0
        for (start, end), kind in spans:
            if start < at:
                continue  # a group inside one already written
            out.append(scrub_free_text(text[at:start], address))
            out.append(self._value(kind, found, attrs, line, address))
            at = end
        out.append(scrub_free_text(text[at:], address))
        return "".join(out)

    @staticmethod
    def _value(
        kind: str, found: dict[str, str], attrs: Attributes, line: LogLine, address: AddressAction
    ) -> str:
        version = attrs.get("network.protocol.version")
        value: object
        if kind == "client":
            value = attrs.get("client.address")
        elif kind == "user":
            value = attrs.get("user.id")
        elif kind == "time":
            value = found["time"]
        elif kind == "request":
            method = attrs.get("http.request.method", "-")
            value = f"{method} {request_target(attrs)}" + (f" HTTP/{version}" if version else "")
        elif kind == "method":
            value = attrs.get("http.request.method")
        elif kind == "target":
            value = request_target(attrs)
        elif kind == "protocol":
            value = f"HTTP/{version}" if version else None
        elif kind == "status":
            value = attrs.get("http.response.status_code")
        elif kind == "bytes":
            value = attrs.get("http.response.body.size")
        elif kind == "referer":
            value = attrs.get("http.request.header.referer")
        elif kind == "user_agent":
            value = user_agent_text(attrs)
        elif kind == "xff":
            value = ",".join(_hop(h, address) for h in line.xff.split(",")) if line.xff else None
        else:  # duration
            value = found["duration"] if "http.server.request.duration" in attrs else None
        return "-" if value is None else str(value)


FORMATS = ("nginx-combined", "apache-combined", "caddy-json", "regex:PATTERN")


def log_format(spec: str) -> CombinedFormat | CaddyFormat | RegexFormat:
    """The format ``--format`` names; a PolicyError naming the choices for anything else."""
    if spec == "nginx-combined":
        return CombinedFormat(spec, "nginx")
    if spec == "apache-combined":
        return CombinedFormat(spec, "apache")
    if spec == "caddy-json":
        return CaddyFormat()
    if spec.startswith("regex:"):
        return RegexFormat(spec[6:])
    raise PolicyError("--format", f"unknown format {spec!r}", "use one of " + ", ".join(FORMATS))
