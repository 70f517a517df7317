"""WSGI middleware for Flask, Django's WSGI handler and any WSGI app, and the environ reader.

The request path wraps ``start_response`` to learn the status and the response iterable to
count its bytes; the record is handed over only when the server closes the iterable, so a
streamed response is timed and counted to its end. An instance of the server's
``wsgi.file_wrapper`` (under uWSGI, whose wrapper is a function: a file) is returned untouched,
so the server can still use ``sendfile()``; its record ends when the app returns, with the
declared Content-Length. Everything else (client address, transforms, export) happens in the
background worker, on a shallow copy of ``environ``. The middleware keeps no per-request state
on ``self``, never changes ``environ`` and never lets an error of its own reach the app.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._core.capture import INCOMPLETE, Capture, Facts
from ._logging.servers import ServerLogs, server_logs_mode
from ._logging.servers import wire as wire_server_logs
from ._policy.model import Policy
from ._privacylog import PrivacyLog, call_user_hook
from ._transforms.text import scrub_path

if TYPE_CHECKING:  # the SDK is imported only when a configuration uses it
    from opentelemetry.sdk._logs import LoggerProvider

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Write = Callable[[bytes], object]
StartResponse = Callable[..., Write]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
UserIdHook = Callable[[Environ], "str | int | None"]
"""Returns the user id of a finished request (from ``environ``), or None."""

#: Environ keys the framework adapters fill in for the reader: route template, user id.
ROUTE_KEY = "privlog.route"
USER_KEY = "privlog.user_id"
_MAX_HEADER = 8192
_SPECIAL_HEADERS = {b"content-length": "CONTENT_LENGTH", b"content-type": "CONTENT_TYPE"}

log = logging.getLogger("privlog")
_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns


def _wsgi_str(value: str) -> str:
    # PEP 3333 hands bytes over as latin-1 decoded text; recover the UTF-8 the client sent.
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # already real text (e.g. Django's ASGI META)
        return value


def mounted_route(script_name: str | None, route: str | None) -> str | None:
    """A route template under the app's mount point, which is scrubbed like a raw path."""
    if route is None or not script_name:
        return route
    return scrub_path(_wsgi_str(script_name).rstrip("/")) + route


@functools.lru_cache(maxsize=256)
def _environ_key(header: bytes) -> str:
    """``b"user-agent"`` -> ``"HTTP_USER_AGENT"`` (CGI's naming, which WSGI keeps)."""
    return _SPECIAL_HEADERS.get(header) or "HTTP_" + header.decode("latin-1").upper().replace("-", "_")


def read_wsgi_environ(environ: Mapping[str, Any], wanted: frozenset[bytes]) -> Facts:
    """Facts from a WSGI environ (or Django's ``request.META``), after the app has run."""
    headers: dict[bytes, str] = {}
    for name in wanted:
        value = environ.get(_environ_key(name))
        if value is not None:
            headers[name] = str(value)[:_MAX_HEADER]
    protocol = environ.get("SERVER_PROTOCOL")
    query = environ.get("QUERY_STRING") or ""
    return Facts(
        method=environ.get("REQUEST_METHOD"),
        scheme=environ.get("wsgi.url_scheme"),
        http_version=protocol[5:] if isinstance(protocol, str) and protocol.startswith("HTTP/") else None,
        path=_wsgi_str(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")),
        route=mounted_route(environ.get("SCRIPT_NAME"), environ.get(ROUTE_KEY)),
        query=query.encode("latin-1", "replace"),
        peer=environ.get("REMOTE_ADDR") or None,
        client_port=_port(environ.get("REMOTE_PORT")),
        headers=headers,
    )


def _port(value: object) -> int | None:
    # A string under WSGI, an int in Django's ASGI META.
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdecimal() and len(value) < 6 else None


def user_from_environ(environ: Environ) -> str | None:
    """The user id a framework adapter stored, else the server's ``REMOTE_USER``."""
    value = environ.get(USER_KEY) or environ.get("REMOTE_USER")
    return str(value) if value else None


def body_length_known_empty(environ: Mapping[str, Any]) -> bool:
    """True when the request has no body (RFC 9112: no Content-Length, no Transfer-Encoding)."""
    return not environ.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in environ


class PrivacyLogMiddleware:
    """Logs every request of a WSGI app through a privacy policy.

    ``app.wsgi_app = PrivacyLogMiddleware(app.wsgi_app, Policy.from_toml("privlog.toml"))``

    Pass ``privlog=`` to share one :class:`PrivacyLog` between apps, ``user_id=`` for a hook
    returning the user id from ``environ`` (default: what an adapter stored, or
    ``REMOTE_USER``), ``logger_provider=`` for your OpenTelemetry LoggerProvider,
    ``directory=`` for the JSONL store.

    ``server_logs``: the server's own loggers (gunicorn's, werkzeug's, waitress's) are
    filtered so their access lines say only what privlog's record says (``"rewrite"``), or
    lose their access lines (``"drop"``), or are left alone (``False``).
    """

    def __init__(
        self,
        app: WSGIApp,
        policy: Policy | None = None,
        *,
        privlog: PrivacyLog | None = None,
        user_id: UserIdHook | None = None,
        directory: str | Path | None = None,
        logger_provider: LoggerProvider | None = None,
        server_logs: ServerLogs | bool = "rewrite",
    ) -> None:
        logs = server_logs_mode(server_logs, "PrivacyLogMiddleware(server_logs=...)")
        privlog = PrivacyLog.for_adapter(
            policy, privlog, logger_provider=logger_provider, directory=directory
        )
        wire_server_logs(privlog, logs)
        self.app = app
        self.privlog = privlog
        self._submit = privlog.dispatcher.submit
        self._http = "http" in privlog.kinds
        self._wants_user = privlog.records("user_id")
        self._user_hook: UserIdHook = user_id or user_from_environ

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not self._http:
            return self.app(environ, start_response)
        response = _Response(self, environ, start_response)
        try:
            iterable = self.app(environ, response.start_response)
        except BaseException:
            response.finish(error=True)
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if file_wrapper is not None and (
            isinstance(iterable, file_wrapper)
            if isinstance(file_wrapper, type)
            else hasattr(iterable, "fileno")  # uWSGI's is a function that returns the file itself
        ):
            # What the server may send with sendfile(): left as it is, so the record ends now,
            # with the Content-Length the app declared.
            response.finish(unwrapped=True)
            return iterable
        response.iterable = iterable
        if hasattr(iterable, "__len__"):
            # Servers read len() == 1 as "the whole body in one block": wsgiref and waitress then
            # send Content-Length and keep the connection alive. Keep that framing.
            response.__class__ = _SizedResponse
        return response

    def _user_id(self, environ: Environ) -> str | None:
        return call_user_hook(self._user_hook, environ) if self._wants_user else None


class _Response:
    """One request's status, byte count and response iterable; closing it finishes the record.

    Stands in for the app's iterable (like opentelemetry-instrumentation-wsgi's
    ``_end_span_after_iterating``), so the server's ``close()`` is what ends the record.
    """

    __slots__ = (
        "_done",
        "_error",
        "_exhausted",
        "_headers",
        "_iterator",
        "_mw",
        "_start_response",
        "_write",
        "environ",
        "iterable",
        "sent",
        "start_ns",
        "status",
        "t0",
    )

    def __init__(self, mw: PrivacyLogMiddleware, environ: Environ, start_response: StartResponse) -> None:
        self.start_ns = _time_ns()
        self.t0 = _perf_ns()
        self._mw = mw
        self.environ = environ
        self._start_response = start_response
        self.iterable: Iterable[bytes] = ()
        self._iterator: Iterator[bytes] | None = None
        self._write: Write | None = None
        self._headers: list[tuple[str, str]] = []
        self.status = ""
        self.sent = 0
        self._error = False
        self._exhausted = False
        self._done = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Write:
        self.status = status
        self._headers = headers
        if exc_info is None:
            self._write = self._start_response(status, headers)
        else:
            self._write = self._start_response(status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> object:
        """The legacy ``write()`` callable of PEP 3333, counted like the iterable."""
        self.sent += len(data)
        if self._write is None:
            raise RuntimeError("write() called before start_response()")
        return self._write(data)

    def __iter__(self) -> Iterator[bytes]:
        if self._iterator is None:
            self._iterator = iter(self.iterable)
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self.iterable)
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._exhausted = True
            raise
        except BaseException:
            self._error = True
            raise
        self.sent += len(chunk)
        return chunk

    def close(self) -> None:
        try:
            close = getattr(self.iterable, "close", None)
            if close is not None:
                close()
        except BaseException:
            self._error = True
            raise
        finally:
            # Closed before the end without an error: the server stopped sending, because the
            # client hung up (a write to its socket failed) or the server is shutting down.
            self.finish(error=self._error, cut=not self._exhausted)

    def _declared_length(self) -> int | None:
        """The Content-Length header the app gave ``start_response``, if valid."""
        for name, value in self._headers:
            if name.lower() == "content-length":
                value = value.strip()
                return int(value) if value.isdecimal() else None
        return None

    def finish(self, *, error: bool = False, unwrapped: bool = False, cut: bool = False) -> None:
        """Hand the record to the worker, once. Never raises.

        ``unwrapped``: the server sends the app's iterable itself (its ``wsgi.file_wrapper``),
        so the byte count is the declared Content-Length, or unknown. ``cut``: the server closed
        the iterable before its end, so the response was not delivered whole.
        """
        if self._done:
            return
        self._done = True
        try:
            mw = self._mw
            environ = self.environ
            code = self.status[:3]
            status: int | None = int(code) if code.isdigit() else None
            # An error before any byte went out: the server answers 500. After, the status
            # sent stands and the record is marked incomplete, as when the server stops early.
            incomplete = status is not None and (self.sent > 0 if error else cut)
            if error and not incomplete:
                status = 500
            mw._submit(
                Capture(
                    "http",
                    read_wsgi_environ,
                    dict(environ),  # a copy: uWSGI empties and reuses its environ after the request
                    self.start_ns,
                    _perf_ns() - self.t0,
                    status,
                    0 if body_length_known_empty(environ) else None,
                    self._declared_length() if unwrapped else self.sent,
                    mw._user_id(environ),
                    INCOMPLETE if incomplete else None,
                )
            )
        except Exception as exc:
            log.warning("privlog: a request could not be recorded (%s)", type(exc).__name__)


class _SizedResponse(_Response):
    """A :class:`_Response` whose app returned a sized iterable (a list): it has the same len()."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self.iterable)  # type: ignore[arg-type]
