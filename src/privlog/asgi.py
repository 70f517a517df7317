"""Pure ASGI middleware for Starlette, FastAPI and any ASGI app.

The request path wraps ``send`` to learn the status and byte counts, then appends one tuple
to the dispatcher's queue. Everything else (client address, transforms, export) happens in
the background worker. The middleware never changes ``scope`` and keeps no per-request state
on ``self``; an error of its own never reaches the application.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._asgi_scope import ScopeReader, find_routes, scope_view
from ._asgi_scope import mounted_template as mounted_template  # re-exported: the reader moved there
from ._asgi_scope import pick_headers as pick_headers
from ._asgi_scope import read_asgi_scope as read_asgi_scope
from ._core.capture import INCOMPLETE, Capture
from ._errors import UsageError
from ._logging.servers import ServerLogs, server_logs_mode
from ._logging.servers import wire as wire_server_logs
from ._policy.model import Policy
from ._privacylog import PrivacyLog, call_user_hook

if TYPE_CHECKING:  # the SDK is imported only when a configuration uses it
    from opentelemetry.sdk._logs import LoggerProvider

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UserIdHook = Callable[[Scope], "str | int | None"]
"""Returns the user id of a finished request (from ``scope``), or None."""

log = logging.getLogger("privlog")
_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns
_new_tuple = tuple.__new__

#: The middleware serving the current request, so an auth event logged while handling it goes
#: to that app's privlog even with several apps in one process, and is read as its requests are.
_serving: ContextVar[PrivacyLogMiddleware | None] = ContextVar("privlog_serving", default=None)


def current_privlog() -> PrivacyLog | None:
    """The :class:`PrivacyLog` of the middleware serving the current request, if any."""
    serving = _serving.get()
    return serving.privlog if serving is not None else None


def log_auth_event(
    event: str, *, user_id: str | int | None = None, request: Any = None, privlog: PrivacyLog | None = None
) -> None:
    """Log an authentication event through the privlog of the app serving ``request``.

    ``request`` may be a Starlette/FastAPI ``Request`` or an ASGI scope; its client address is
    resolved and transformed exactly as for request records. Outside a request served by
    :class:`PrivacyLogMiddleware`, pass ``privlog=`` explicitly.
    """
    serving = _serving.get()
    target = privlog or (serving.privlog if serving is not None else None)
    if target is None:
        raise UsageError(
            "log_auth_event",
            "no privlog serves this request",
            "call it while handling a request that PrivacyLogMiddleware serves, or pass privlog=",
        )
    scope = getattr(request, "scope", request)
    # A copy: the request goes on after the event, and the worker reads the scope later.
    source = scope_view(scope) if scope is not None else None
    # The serving middleware's reader knows the top router: a mounted application's scope alone
    # gives its routes a placeholder prefix ("/{mount}/login"), the request's record the template.
    reader = serving._reader if serving is not None and serving.privlog is target else read_asgi_scope
    target.auth_event(event, user_id=user_id, source=source, reader=reader if source is not None else None)


def user_from_scope(scope: Scope) -> str | None:
    """The identity of ``scope["user"]`` set by Starlette's AuthenticationMiddleware, if any."""
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    for attr in ("identity", "id", "pk", "username", "display_name"):
        try:
            value = getattr(user, attr, None)
        except Exception:  # BaseUser.identity raises NotImplementedError
            continue
        if value is not None and value != "":
            return str(value)
    return None


class PrivacyLogMiddleware:
    """Logs every request through a privacy policy.

    ``app.add_middleware(PrivacyLogMiddleware, policy=Policy.from_toml("privlog.toml"))``

    Pass ``privlog=`` to share one :class:`PrivacyLog` between apps, ``user_id=`` for a hook
    returning the user id of a request (default: ``scope["user"]``), ``logger_provider=`` to
    use your OpenTelemetry LoggerProvider, ``directory=`` for the JSONL store.

    ``server_logs``: the server's own loggers (uvicorn's, gunicorn's, hypercorn's) are
    filtered so their access lines say only what privlog's record says (``"rewrite"``), or
    lose their access lines (``"drop"``), or are left alone (``False``).
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: Policy | None = None,
        *,
        privlog: PrivacyLog | None = None,
        user_id: UserIdHook | None = None,
        logger_provider: LoggerProvider | None = None,
        directory: str | Path | None = None,
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
        self._dispatcher = privlog.dispatcher
        self._http = "http" in privlog.kinds
        self._websocket = "websocket" in privlog.kinds
        self._wants_user = privlog.records("user_id")
        self._count_received = privlog.records("request_bytes")
        self._user_hook: UserIdHook = user_id or user_from_scope
        # Bound once: the worker rebuilds route templates through mounts from the top router.
        self._reader = ScopeReader(find_routes(app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._http:
            await self._not_http(scope, receive, send)
            return
        # HTTP is handled here, not in a method of its own: one coroutine per request, not two.
        token = _serving.set(self)
        try:
            start = _time_ns()
            t0 = _perf_ns()
            status = 0
            sent = 0
            received = 0
            end = 0
            failed = False

            async def send_wrapper(message: Message) -> None:
                nonlocal status, sent, end
                kind = message["type"]
                if kind == "http.response.body":
                    sent += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        end = _perf_ns()  # the response is complete; background tasks are not the request
                elif kind == "http.response.start":
                    status = message["status"]
                elif kind == "http.response.pathsend":  # the server sends the file: its size is the body
                    sent += _file_size(message.get("path"))
                    end = _perf_ns()
                await send(message)

            inner_receive = receive
            if self._count_received:

                async def receive_wrapper() -> Message:
                    nonlocal received
                    message = await receive()
                    if message["type"] == "http.request":
                        received += len(message.get("body", b""))
                    return message

                inner_receive = receive_wrapper
            try:
                await self.app(scope, inner_receive, send_wrapper)
            except BaseException:
                failed = True  # before the response started, the server answers 500; after, the
                raise  # status sent stands and the record is marked incomplete
            finally:
                duration = (end or _perf_ns()) - t0
                self._submit(
                    _new_tuple(  # a NamedTuple's own __new__ is Python code: skipped, per request
                        Capture,
                        (
                            "http",
                            self._reader,
                            scope_view(scope),  # what the reader needs, copied: the scope lives on
                            start,
                            duration,
                            status or (500 if failed else None),
                            received,
                            sent,
                            call_user_hook(self._user_hook, scope) if self._wants_user else None,
                            INCOMPLETE if status and not end else None,
                        ),
                    )
                )
                if self._dispatcher.stopping:
                    await self._export_now()
        finally:
            _serving.reset(token)

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Lifespan, WebSocket sessions, and HTTP when no stream takes it."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._handle_lifespan(scope, receive, send)
            return
        token = _serving.set(self)
        try:
            if kind == "websocket" and self._websocket:
                await self._handle_websocket(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        finally:
            _serving.reset(token)

    def _user_id(self, scope: Scope) -> str | None:
        return call_user_hook(self._user_hook, scope) if self._wants_user else None

    async def _handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = _time_ns()
        t0 = _perf_ns()
        ws = _WebSocketCounts()

        async def receive_wrapper() -> Message:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                ws.messages_in += 1
                ws.bytes_in += _ws_size(message)
            elif kind == "websocket.disconnect":
                ws.close_code = message.get("code", 1000)
            return message

        async def send_wrapper(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.send":
                ws.messages_out += 1
                ws.bytes_out += _ws_size(message)
            elif kind == "websocket.accept":
                ws.status = 101
            elif kind == "websocket.close":
                ws.close_code = message.get("code", 1000)
                ws.status = ws.status or 403  # closed before accepting: refused
            elif kind == "websocket.http.response.start":
                ws.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except BaseException:
            ws.status = ws.status or 500
            ws.close_code = ws.close_code or 1011
            raise
        finally:
            self._submit(
                Capture(
                    "websocket",
                    self._reader,
                    scope_view(scope),  # what the reader needs, copied: the scope lives on
                    start,
                    _perf_ns() - t0,
                    ws.status,
                    ws.bytes_in,
                    ws.bytes_out,
                    self._user_id(scope),
                    ws.as_dict(),
                )
            )
            if self._dispatcher.stopping:
                await self._export_now()

    async def _export_now(self) -> None:
        """While the server stops (SIGTERM), export this record before the request task ends:
        uvicorn waits for its tasks, then re-raises SIGTERM and the process dies at once."""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._dispatcher.drain)
        except Exception as exc:
            log.warning("privlog: export at shutdown failed (%s)", type(exc).__name__)

    async def _handle_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        privlog = self.privlog

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                # Export what is queued before the server exits; off the event loop.
                try:
                    await asyncio.get_running_loop().run_in_executor(None, privlog.flush)
                except Exception as exc:
                    log.warning("privlog: flush at shutdown failed (%s)", type(exc).__name__)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _file_size(path: Any) -> int:
    try:
        return os.stat(path).st_size
    except (OSError, TypeError, ValueError):
        return 0


class _WebSocketCounts:
    """Per-connection counters of one WebSocket session (never stored on the middleware)."""

    __slots__ = ("bytes_in", "bytes_out", "close_code", "messages_in", "messages_out", "status")

    def __init__(self) -> None:
        self.messages_in = self.messages_out = self.bytes_in = self.bytes_out = 0
        self.close_code: int | None = None
        self.status: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "close_code": self.close_code,
        }


def _ws_size(message: Message) -> int:
    data = message.get("bytes")
    if data is not None:
        return len(data)
    text = message.get("text")
    return len(text.encode("utf-8", "surrogatepass")) if text is not None else 0
