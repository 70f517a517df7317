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
from typing import Any

import orjson

from .._core.record import Attributes, client_address, header_text
from .._errors import UsageError
from .._transforms.address import parse_ip
from .._transforms.freetext import AddressAction, scrub_free_text
from .logline import (
    MAX_LINE,
    REQUEST_LINE,
    ClfTime,
    LogLine,
    hop,
    http_version,
    iso_ns,
    number,
    request_target,
    unescape,
    user_agent_text,
)
from .regexformat import RegexFormat

__all__ = ["FORMATS", "MAX_LINE", "CaddyFormat", "CombinedFormat", "LogLine", "RegexFormat", "log_format"]

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # a quoted log string, with backslash escapes
_COMBINED = re.compile(
    r"(\S+) \S+ (\S+) \[([^\]]*)\] " + _QUOTED + r" (\d{3}|-) (\d+|-)"
    r"(?: " + _QUOTED + " " + _QUOTED + r")?(?: " + _QUOTED + r")?(.*)",
    re.DOTALL,
)
_QUOTED_RE = re.compile(_QUOTED, re.DOTALL)
_PROTOCOLS = {"HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2.0": "2", "HTTP/3.0": "3"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f-\xff]')


def _nginx_escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match[0]):02X}"


def _apache_escape(match: re.Match[str]) -> str:
    char = match[0]
    return "\\" + char if char in '"\\' else f"\\x{ord(char):02x}"


def _xff_field(text: str) -> bool:
    """A trailing quoted field that holds an ``X-Forwarded-For`` value (or ``-``)."""
    if text == "-":
        return True
    hops = text.split(",")
    return len(hops) <= 64 and all(parse_ip(h) is not None for h in hops)


class CombinedFormat:
    """nginx's and Apache's ``combined`` format (with or without referrer and user agent).

    A quoted field after the user agent holding addresses is taken for nginx's ``main``
    format's ``"$http_x_forwarded_for"``; anything else after the known fields is kept,
    scrubbed as free text. ``escape`` is ``"nginx"`` (``\\x22``) or ``"apache"`` (``\\"``).
    """

    def __init__(self, name: str, escape: str) -> None:
        self.name = name
        self._escape = _nginx_escape if escape == "nginx" else _apache_escape
        self._time = ClfTime()

    def parse(self, text: str) -> LogLine | None:
        m = _COMBINED.fullmatch(text)
        if m is None:
            return None
        peer, user, time_text, request, status, size, referer, ua, extra, rest = m.groups()
        time_ns = self._time(time_text)
        if time_ns is None:
            return None
        line = LogLine(peer, time_ns)
        if user != "-":
            line.user = unescape(user)
        parts = request.split(" ")
        if len(parts) == 3 and parts[2] in _PROTOCOLS and parts[0].isalpha() and "\\" not in request:
            line.method = parts[0]  # the common case, without a regex
            line.set_target(parts[1])
            line.http_version = _PROTOCOLS[parts[2]]
        else:
            req = REQUEST_LINE.fullmatch(unescape(request))
            if req is not None:
                line.method = req[1]
                line.set_target(req[2])
                line.http_version = http_version(req[3])
        if status != "-":
            line.status = int(status)
        line.response_bytes = 0 if size == "-" else number(size)
        if referer is not None and referer != "-":
            line.set_header(b"referer", unescape(referer))
        if ua is not None and ua != "-":
            line.set_header(b"user-agent", unescape(ua))
        has_xff = False
        if extra is not None:
            extra = unescape(extra)
            if _xff_field(extra):
                has_xff = True
                if extra != "-":
                    line.set_header(b"x-forwarded-for", extra)
                extra = None
        line.source = (time_text, referer is not None, has_xff, extra, rest)
        return line

    def write(self, line: LogLine, attrs: Attributes, address: AddressAction) -> str:
        time_text, has_ua, has_xff, extra, rest = line.source
        method = attrs.get("http.request.method", "-")
        version = attrs.get("network.protocol.version")
        request = f"{method} {request_target(attrs)}" + (f" HTTP/{version}" if version else "")
        out = (
            f"{client_address(attrs) or '-'} - {self._quote(attrs.get('user.id'))} [{time_text}] "
            f'"{self._quote(request)}" {attrs.get("http.response.status_code", "-")} '
            f"{attrs.get('http.response.body.size', '-')}"
        )
        if has_ua:
            out += (
                f' "{self._quote(header_text(attrs, "referer"))}"'
                f' "{self._quote(user_agent_text(attrs))}"'
            )
        if line.xff is not None:
            hops = ",".join(hop(h, address) for h in line.xff.split(","))
            out += f' "{self._quote(hops)}"'
        elif has_xff:
            out += ' "-"'
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
        time_ns = iso_ns(obj.get("ts")) if isinstance(req, dict) else None
        if not isinstance(req, dict) or time_ns is None:
            return None
        peer = req.get("remote_ip") or req.get("remote_addr")
        line = LogLine(peer if isinstance(peer, str) else None, time_ns)
        method, uri, proto = req.get("method"), req.get("uri"), req.get("proto")
        line.method = method if isinstance(method, str) else None
        if isinstance(uri, str):
            line.set_target(uri)
        line.http_version = http_version(proto) if isinstance(proto, str) else None
        line.client_port = number(str(req.get("remote_port", "")))
        headers = req.get("headers")
        if isinstance(headers, dict):
            for key, value in headers.items():
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    continue
                lower = key.lower()
                if lower in ("user-agent", "referer") and value:
                    line.set_header(lower.encode(), value[0])
                elif lower == "x-forwarded-for" and value:
                    line.set_header(b"x-forwarded-for", ",".join(value))
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
        client = client_address(attrs)
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
        referer = header_text(attrs, "referer")
        if referer is not None:
            headers["Referer"] = [referer]
        if line.xff is not None:
            headers["X-Forwarded-For"] = [",".join(hop(h, address) for h in line.xff.split(","))]
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


FORMATS = ("nginx-combined", "apache-combined", "caddy-json", "regex:PATTERN")


def log_format(spec: str) -> CombinedFormat | CaddyFormat | RegexFormat:
    """The format ``--format`` names; a UsageError naming the choices for anything else."""
    if spec == "nginx-combined":
        return CombinedFormat(spec, "nginx")
    if spec == "apache-combined":
        return CombinedFormat(spec, "apache")
    if spec == "caddy-json":
        return CaddyFormat()
    if spec.startswith("regex:"):
        return RegexFormat(spec[6:])
    raise UsageError("--format", f"unknown format {spec!r}", "use one of " + ", ".join(FORMATS))
