"""Django middleware, sync and async: ``"privlog.django.middleware.PrivacyLogMiddleware"``.

On the request thread it reads only what it alone can: status, byte count, the resolved
route and, when the policy records it, the user's primary key: of the user the view loaded,
else the one the session names, so a view that never touched the user costs no user query.
The worker reads the rest from ``request.META`` (or the ASGI scope). A streamed response is
recorded when Django closes it, so its bytes and duration are complete; one that did not reach
its end (its iterator raised, or the client went away and the server stopped sending) keeps the
status sent and is marked ``privlog.incomplete``. A ``FileResponse`` is the server's to send
(``wsgi.file_wrapper``): it is recorded at once, with its Content-Length. An error of privlog's
never reaches the app; an exception from the app is recorded as status 500 and re-raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.functional import LazyObject, empty

from .._core.capture import INCOMPLETE, Capture
from . import conf
from ._source import read_django, request_source

GetResponse = Callable[[HttpRequest], Any]
log = logging.getLogger("privlog")
_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns


class PrivacyLogMiddleware:
    """Logs each request through ``settings.PRIVLOG``. Keeps no per-request state on ``self``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)
        # The PrivacyLog is built on the first request (conf.shared): a management command
        # that loads the middleware creates no store and needs no secret. `manage.py check`
        # reports a wrong policy (privlog.E001) before that.

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        shared = _current()
        if shared is None or not shared.http:
            return self.get_response(request)
        start, t0 = _time_ns(), _perf_ns()
        try:
            response = self.get_response(request)
        except BaseException:
            _record(shared, request, None, start, t0, _user_id(request) if shared.wants_user else None)
            raise
        user = _user_id(request) if shared.wants_user else None
        return _record(shared, request, response, start, t0, user)

    async def __acall__(self, request: HttpRequest) -> Any:
        shared = _current()
        get_response: Callable[[HttpRequest], Awaitable[Any]] = self.get_response
        if shared is None or not shared.http:
            return await get_response(request)
        start, t0 = _time_ns(), _perf_ns()
        try:
            response = await get_response(request)
        except BaseException:
            user = await _auser_id(request) if shared.wants_user else None
            _record(shared, request, None, start, t0, user)
            raise
        user = await _auser_id(request) if shared.wants_user else None
        return _record(shared, request, response, start, t0, user)


def _current() -> conf.Shared | None:
    try:
        return conf.shared()
    except ImproperlyConfigured:  # logged once, when it failed
        return None
    except Exception as exc:
        log.warning("privlog: not logging this request (%s)", type(exc).__name__)
        return None


def _pk(user: Any) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    return None if user.pk is None else str(user.pk)


#: Where ``django.contrib.auth.login()`` keeps the user's primary key in the session.
_SESSION_USER_KEY = "_auth_user_id"


def _is_django_lazy_user(user: object) -> bool:
    """True for the lazy ``request.user`` that Django's ``AuthenticationMiddleware`` sets."""
    setup = user.__dict__.get("_setupfunc")
    return getattr(setup, "__module__", None) == "django.contrib.auth.middleware"


def _loaded_user(request: HttpRequest) -> Any:
    """``request.user`` if reading it costs nothing more, else ``empty``.

    The view, a decorator or ``login()`` may already have loaded the user: then it is used.
    Django's own lazy user still unread is ``empty``: its id is then read from the session,
    which spares the user query (the session is loaded only if the client sent a session
    key). Someone else's lazy user (a token middleware, say) is returned as is, to be loaded.
    """
    user = getattr(request, "user", None)
    if not isinstance(user, LazyObject):  # isinstance() checks type() first: no evaluation
        return user
    wrapped = user._wrapped
    if wrapped is not empty:
        return wrapped
    if not _is_django_lazy_user(user):
        return user
    cached = request.__dict__
    for name in ("_cached_user", "_acached_user"):  # get_user() / auser() already ran
        if name in cached:
            return cached[name]
    return empty


def _session(request: HttpRequest) -> Any:
    """The request's session if the client sent one (a session key), else None."""
    session = getattr(request, "session", None)
    if session is None or not getattr(session, "session_key", None):
        return None
    return session


def _session_value(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _user_id(request: HttpRequest) -> str | None:
    try:
        user = _loaded_user(request)
        if user is not empty:
            return _pk(user)
        session = _session(request)
        if session is None:
            return None
        accessed = getattr(session, "accessed", None)
        try:
            # Unverified against the password hash: the id the session claims, as logged.
            return _session_value(session.get(_SESSION_USER_KEY))
        finally:
            if accessed is not None:  # our read must not add "Vary: Cookie"
                session.accessed = accessed
    except Exception as exc:
        log.warning("privlog: could not read the user (%s)", type(exc).__name__)
        return None


async def _auser_id(request: HttpRequest) -> str | None:
    """The user id without touching the ORM from the event loop (see :func:`_user_id`)."""
    try:
        user = _loaded_user(request)
        if user is empty:
            session = _session(request)
            if session is None:
                return None
            accessed = getattr(session, "accessed", None)
            try:
                if hasattr(session, "_session_cache"):  # loaded already: no I/O
                    value = session.get(_SESSION_USER_KEY)
                elif hasattr(session, "aget"):  # Django 5.1+
                    value = await session.aget(_SESSION_USER_KEY)
                else:
                    value = await sync_to_async(session.get)(_SESSION_USER_KEY)
            finally:
                if accessed is not None:
                    session.accessed = accessed
            return _session_value(value)
        if isinstance(user, LazyObject):  # someone else's lazy user, not loaded yet
            return await sync_to_async(_pk)(user)
        return _pk(user)
    except Exception as exc:
        log.warning("privlog: could not read the user (%s)", type(exc).__name__)
        return None


def _record(
    shared: conf.Shared,
    request: HttpRequest,
    response: HttpResponseBase | None,
    start: int,
    t0: int,
    user: str | None,
) -> Any:
    """Submit the record now, or when a streamed response is closed. Returns ``response``."""
    try:
        if response is None:
            status, size = 500, None
        else:
            status, size = response.status_code, _size(response)
        capture = Capture(
            "http",
            read_django,
            request_source(request),
            start,
            0,
            status,
            _request_bytes(request),
            size,
            user,
            None,
        )
        submit = shared.privlog.submit
        if isinstance(response, StreamingHttpResponse) and getattr(response, "file_to_stream", None) is None:
            # Django appends our close() to the response's closers; it runs after streaming.
            stream = response.streaming_content
            # Django's ASGI handler sends the status before the first chunk; a WSGI server only
            # with the first non-empty one, and answers 500 itself if the body fails before.
            started = isinstance(request, ASGIRequest)
            if response.is_async:
                response.streaming_content = _AsyncCounted(stream, capture, t0, submit, started)
            else:
                response.streaming_content = _Counted(stream, capture, t0, submit, started)
        else:
            submit(capture._replace(duration_ns=_perf_ns() - t0))
    except Exception as exc:
        log.warning("privlog: a request could not be recorded (%s)", type(exc).__name__)
    return response


def _size(response: HttpResponseBase) -> int | None:
    length = response.get("Content-Length")
    if length is not None and length.isdecimal():
        return int(length)
    if isinstance(response, HttpResponse):
        # The chunks as written; ``response.content`` would join them on the request thread.
        container = getattr(response, "_container", None)
        if isinstance(container, list):
            return sum(map(len, container))
        return len(response.content)
    return None  # streamed: counted as it is sent


def _request_bytes(request: HttpRequest) -> int | None:
    meta = request.META
    # No Content-Length and no Transfer-Encoding: no body (RFC 9112); else the worker uses
    # the Content-Length header.
    return 0 if not meta.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in meta else None


class _Counted:
    """A streamed body that counts its bytes and submits the record when closed."""

    __slots__ = ("_capture", "_closed", "_done", "_failed", "_it", "_sent", "_started", "_submit", "_t0")

    def __init__(
        self, stream: Any, capture: Capture, t0: int, submit: Callable[[Capture], None], started: bool
    ) -> None:
        self._it: Iterator[bytes] = iter(stream)
        self._capture, self._t0, self._submit, self._started = capture, t0, submit, started
        self._sent = 0
        self._closed = self._failed = self._done = False

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self._it)
        except StopIteration:
            self._done = True
            raise
        except BaseException:
            self._failed = True
            self.close()  # now: Django's ASGI handler does not close a response whose stream raised
            raise
        self._sent += len(chunk)
        return chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _submit_streamed(self._submit, self._capture, self._t0, self._sent, self._failed, self._done, self._started)


class _AsyncCounted:
    """The async twin of :class:`_Counted` (no ``__iter__``, so Django sees it as async)."""

    __slots__ = ("_capture", "_closed", "_done", "_failed", "_it", "_sent", "_started", "_submit", "_t0")

    def __init__(
        self, stream: Any, capture: Capture, t0: int, submit: Callable[[Capture], None], started: bool
    ) -> None:
        self._it: AsyncIterator[bytes] = aiter(stream)
        self._capture, self._t0, self._submit, self._started = capture, t0, submit, started
        self._sent = 0
        self._closed = self._failed = self._done = False

    def __aiter__(self) -> _AsyncCounted:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await anext(self._it)
        except StopAsyncIteration:
            self._done = True
            raise
        except BaseException:  # CancelledError too: Django cancels the response when the client goes
            self._failed = True
            self.close()  # now: Django's ASGI handler does not close a response whose stream raised
            raise
        self._sent += len(chunk)
        return chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _submit_streamed(self._submit, self._capture, self._t0, self._sent, self._failed, self._done, self._started)


def _submit_streamed(
    submit: Callable[[Capture], None],
    capture: Capture,
    t0: int,
    sent: int,
    failed: bool,
    done: bool,
    started: bool,
) -> None:
    """Submit a streamed response's record. An error before the status went out is the server's
    500; any other response that did not reach its end keeps its status and is incomplete."""
    try:
        status = capture.status
        extra = None
        if failed and not (started or sent):
            status = 500
        elif failed or not done:
            extra = INCOMPLETE
        submit(capture._replace(duration_ns=_perf_ns() - t0, status=status, response_bytes=sent, extra=extra))
    except Exception as exc:
        log.warning("privlog: a request could not be recorded (%s)", type(exc).__name__)
