"""A user's access log format: a regex with named groups (``--format regex:PATTERN``)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .._core.record import Attributes, client_address, header_text
from .._errors import UsageError
from .._transforms.freetext import AddressAction, scrub_free_text
from .logline import (
    REQUEST_LINE,
    ClfTime,
    LogLine,
    hop,
    http_version,
    iso_ns,
    number,
    request_target,
    user_agent_text,
)

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
            raise UsageError("--format", f"not a valid regex ({exc})", "fix the pattern") from None
        unknown = sorted(set(self._regex.groupindex) - set(REGEX_GROUPS))
        if unknown:
            raise UsageError(
                "--format",
                f"unknown group name {unknown[0]!r} in the regex",
                "name groups " + ", ".join(f"(?P<{n}>...)" for n in REGEX_GROUPS),
            )
        if not self._regex.groupindex:
            raise UsageError("--format", "the regex has no named groups", "add e.g. (?P<client>\\S+)")
        self._groups = [(REGEX_GROUPS[n], n) for n in self._regex.groupindex]
        self._time = ClfTime()

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
            time_ns = self._time(found["time"]) or iso_ns(found["time"])
            if time_ns is None:
                return None
        line = LogLine(found.get("client"), time_ns)
        line.user = found.get("user") if found.get("user") not in (None, "-") else None
        request = REQUEST_LINE.fullmatch(found["request"]) if "request" in found else None
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
        line.status = number(found.get("status"))
        line.response_bytes = number(found.get("bytes"))
        for kind, header in (
            ("referer", b"referer"),
            ("user_agent", b"user-agent"),
            ("xff", b"x-forwarded-for"),
        ):
            value = found.get(kind)
            if value is not None and value != "-":
                line.set_header(header, value)
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
            value = client_address(attrs)
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
            value = header_text(attrs, "referer")
        elif kind == "user_agent":
            value = user_agent_text(attrs)
        elif kind == "xff":
            value = ",".join(hop(h, address) for h in line.xff.split(",")) if line.xff else None
        else:  # duration
            value = found["duration"] if "http.server.request.duration" in attrs else None
        return "-" if value is None else str(value)
