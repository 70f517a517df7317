"""Captured facts: what the request thread hands to the background worker.

The request thread does the least it can: it appends one :class:`Capture` (a tuple) holding a
reference to the framework's own request object (the ASGI scope; a shallow copy of the WSGI
environ, which uWSGI reuses) plus the numbers only it can see (times, status, bytes). The
worker later reads only the allow-listed facts out of that object with a framework-specific
*reader* (``privlog.asgi.read_asgi_scope``, ``privlog.wsgi.read_wsgi_environ``, Django's
``read_django``); nothing else is ever looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple


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


#: The extra of an HTTP record whose response started but never finished (an error or a client
#: that went away mid-stream): the status is the one sent, ``privlog.incomplete`` is true.
INCOMPLETE: Mapping[str, Any] = MappingProxyType({"incomplete": True})


class Capture(NamedTuple):
    """One unit of work for the worker. Built on the request path, so kept to a plain tuple
    built by position there; cold paths and tests use the keyword factories :meth:`of` and
    :meth:`auth`."""

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

    @classmethod
    def of(
        cls,
        kind: str,
        *,
        reader: Reader | None = None,
        source: Any = None,
        start_ns: int = 0,
        duration_ns: int = 0,
        status: int | None = None,
        request_bytes: int | None = None,
        response_bytes: int | None = None,
        user_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Capture:
        """A capture by keyword."""
        return cls(kind, reader, source, start_ns, duration_ns, status, request_bytes, response_bytes, user_id, extra)

    @classmethod
    def auth(
        cls, event: str, start_ns: int, user_id: str | None, reader: Reader | None = None, source: Any = None
    ) -> Capture:
        """An authentication event, with the request it happened in (``source``), if any."""
        return cls.of(
            "auth",
            reader=reader if source is not None else None,
            source=source,
            start_ns=start_ns,
            user_id=user_id,
            extra={"event": event},
        )
