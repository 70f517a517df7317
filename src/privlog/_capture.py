"""Captured facts: what the request thread hands to the background worker.

The request thread does the least it can: it appends one :class:`Capture` (a tuple) holding a
reference to the framework's own request object (ASGI scope, WSGI environ) plus the numbers
only it can see (times, status, bytes). The worker later reads only the allow-listed facts
out of that object with a framework-specific *reader*; nothing else is ever looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ._generalise import scrub_path


class Facts:
    """Normalised raw facts of one request, read in the worker. Never exported as such."""

    __slots__ = (
        "client",
        "client_port",
        "headers",
        "http_version",
        "method",
        "path",
        "peer",
        "query",
        "ring",
        "route",
        "scheme",
    )

    def __init__(
        self,
        method: str | None = None,
        scheme: str | None = None,
        http_version: str | None = None,
        path: str | None = None,
        route: str | None = None,
        query: bytes = b"",
        peer: str | None = None,
        client_port: int | None = None,
        headers: Mapping[bytes, str] | None = None,
    ) -> None:
        self.method = method
        self.scheme = scheme
        self.http_version = http_version
        self.path = path
        self.route = route
        self.query = query
        self.peer = peer
        self.client_port = client_port
        self.headers: Mapping[bytes, str] = headers if headers is not None else {}
        self.ring: Any = None  # the key ring of the record's epoch, set by the pipeline
        self.client: bytes | str | None = None  # the resolved client address, set by the pipeline


#: Reads :class:`Facts` out of a framework's request object, picking only ``wanted`` headers.
Reader = Callable[[Any, frozenset[bytes]], Facts]


class Capture(NamedTuple):
    """One unit of work for the worker. Built on the request path, so kept to a plain tuple."""

    kind: str  # "http", "websocket" or "auth"
    reader: Reader | None
    source: Any  # the framework's request object, or None
    start_ns: int  # wall-clock start, ns since the epoch
    duration_ns: int
    status: int | None
    request_bytes: int | None
    response_bytes: int | None
    user_id: str | None
    extra: Mapping[str, Any] | None  # WebSocket counters, auth event name


def pick_headers(raw: Any, wanted: frozenset[bytes]) -> dict[bytes, str]:
    """The wanted headers from an ASGI header list, decoded leniently, first value wins.

    Repeated ``X-Forwarded-For``/``Forwarded`` are joined with commas as RFC 7230 allows.
    """
    out: dict[bytes, str] = {}
    for name, value in raw:
        name = name.lower()
        if name in wanted:
            text = value[:8192].decode("latin-1")
            if name in out:
                if name in (b"x-forwarded-for", b"forwarded"):
                    out[name] = out[name] + "," + text
                continue
            out[name] = text
    return out


def read_asgi_scope(scope: Any, wanted: frozenset[bytes]) -> Facts:
    """Facts from an ASGI scope (HTTP or WebSocket), after the app has run."""
    client = scope.get("client")
    route = None
    found = scope.get("route")
    template = getattr(found, "path_format", None) if found is not None else None
    if isinstance(template, str):
        # A mounted app's routes are relative to the mount; root_path holds the prefix.
        prefix = scope.get("root_path", "") or ""
        app_root = scope.get("app_root_path", "") or ""
        if prefix.startswith(app_root):
            prefix = prefix[len(app_root) :]
        route = scrub_path(prefix) + template if prefix else template
    return Facts(
        method=scope.get("method", "GET" if scope.get("type") == "websocket" else None),
        scheme=scope.get("scheme"),
        http_version=scope.get("http_version"),
        path=scope.get("path"),
        route=route,
        query=scope.get("query_string", b""),
        peer=client[0] if client else None,
        client_port=client[1] if client else None,
        headers=pick_headers(scope.get("headers", ()), wanted),
    )
