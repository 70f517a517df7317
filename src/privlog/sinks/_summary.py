"""A record's severity and its short human line, for log viewers (Grafana, Kibana, ClickHouse).

Both are read from the record's attributes, after the policy's transforms: the line repeats
what the record already holds and never adds anything (a dropped field is absent from both).
The OTLP ``event_name`` stays the record's ``event.name``; the body is the line a person reads.

Severity: a 5xx response, a WebSocket closed by a server error (1011-1014) or a response cut
short is ERROR; a 4xx response and a failed login are WARN; everything else is INFO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeGuard

INFO: Final = (9, "INFO")
WARN: Final = (13, "WARN")
ERROR: Final = (17, "ERROR")
"""(OTLP SeverityNumber, severity text) of the three levels privlog uses."""

_WARN_EVENTS: Final = frozenset({"auth.login_failure"})


def _is_int(value: Any) -> TypeGuard[int]:
    """An int, of a subclass too (``HTTPStatus.NOT_FOUND``, which Starlette and FastAPI apps
    send as the status), but not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def http_severity(status: Any, incomplete: bool) -> tuple[int, str]:
    """The severity of an HTTP record with this status (an int, or None when not kept)."""
    if incomplete or (_is_int(status) and status >= 500):
        return ERROR
    if _is_int(status) and status >= 400:
        return WARN
    return INFO


def severity(attrs: Mapping[str, Any]) -> tuple[int, str]:
    """The record's (SeverityNumber, text)."""
    name = attrs.get("event.name")
    if name in _WARN_EVENTS:
        return WARN
    close = attrs.get("privlog.websocket.close_code")
    if _is_int(close) and 1011 <= close <= 1014:
        return ERROR
    return http_severity(attrs.get("http.response.status_code"), attrs.get("privlog.incomplete") is True)


def target(attrs: Mapping[str, Any]) -> Any:
    """What the line names as the request's target: the route template, else the (scrubbed) path."""
    route = attrs.get("http.route")
    return route if route is not None else attrs.get("url.path")


def http_head(method: Any, path: Any, status: Any) -> str:
    """The start of an HTTP record's line, ``GET /users/{user_id} 200 ``: the parts the record has."""
    return "".join(f"{part} " for part in (method, path, status) if part is not None)


def duration_text(seconds: Any) -> str:
    """``12ms``, ``0.8ms`` or ``3.2s`` (seconds from one second up); empty when the record has no duration."""
    if type(seconds) is not float:
        return ""
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{seconds:.1f}s"


def http_line(head: str, duration: str, name: Any) -> str:
    """An HTTP record's line from its cached head and its duration text (the encoder's split)."""
    if duration:
        return head + duration
    return head.rstrip() or str(name)


def body(attrs: Mapping[str, Any]) -> str:
    """The short line of a record: ``GET /users/{user_id} 200 12ms``,
    ``auth.login_failure POST /login 401``, ``websocket /chat/{room} 1000 3.2s in=5 out=4``."""
    name = attrs.get("event.name")
    duration = duration_text(attrs.get("http.server.request.duration"))
    if name == "http.request":
        head = http_head(attrs.get("http.request.method"), target(attrs), attrs.get("http.response.status_code"))
        return http_line(head, duration, name)
    parts: list[Any] = [name]
    if name == "websocket.session":
        parts[0] = "websocket"
        parts += [target(attrs), attrs.get("privlog.websocket.close_code"), duration or None]
        for key in ("in", "out"):
            count = attrs.get(f"privlog.websocket.messages_{key}")
            if count is not None:
                parts.append(f"{key}={count}")
    else:
        parts += [attrs.get("http.request.method"), target(attrs), attrs.get("http.response.status_code")]
    return " ".join(str(p) for p in parts if p is not None)
