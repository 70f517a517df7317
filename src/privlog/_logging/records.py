"""Scrubbing ``logging`` records: the message, its arguments, ``extra`` fields, tracebacks.

:class:`ScrubbingFilter` is for the app's own messages; the server loggers' filter
(:mod:`._server_logs`) builds on the same pieces. A filter never raises: a record it cannot
scrub loses its text instead (``privlog: message withheld``), since letting it through raw is
what the filter exists to prevent.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .._privacylog import PrivacyLog
from .._transforms.freetext import scrub_traceback
from .shape import LogShaper, choose_stream

Scrub = Callable[[str], str]

#: The attributes every LogRecord has; anything else on a record came in through ``extra``.
_PLAIN_RECORD = logging.LogRecord("", 0, "", 0, "", (), None).__dict__
STANDARD_ATTRIBUTES = frozenset(_PLAIN_RECORD) | {"message", "asctime"}
_PLAIN_SIZE = len(_PLAIN_RECORD)
#: ``extra`` fields left as they are by default: OpenTelemetry's random trace and span ids.
DEFAULT_KEEP = frozenset(
    {"otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName", "trace_id", "span_id"}
)
WITHHELD = "privlog: message withheld (it could not be scrubbed: %s)"
_SAFE_TYPES = (int, float, type(None), datetime.date, datetime.time, datetime.timedelta)
_FORMATTER = logging.Formatter()
_seen = threading.local()
_wired: PrivacyLog | None = None


def follow(privlog: PrivacyLog) -> None:
    """Make ``privlog`` the one filters without a privlog of their own use: the adapters call
    this when they are built, so the newest app's policy shapes the process's logs."""
    global _wired
    _wired = privlog


def wired() -> PrivacyLog | None:
    """The privlog an adapter built most recently, if any."""
    return _wired


class Redacted:
    """Stands in for an object in a record: its text is scrubbed, its attributes are its own.

    Django puts the request object into its records; a formatter printing it gets scrubbed
    text, while handlers that read its attributes (Django's ``AdminEmailHandler``) still work.
    """

    __slots__ = ("_obj", "_scrub")

    def __init__(self, obj: Any, scrub: Scrub) -> None:
        self._obj = obj
        self._scrub = scrub

    def __str__(self) -> str:
        return self._scrub(str(self._obj))

    def __repr__(self) -> str:
        return self._scrub(repr(self._obj))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, name)


def scrub_value(value: Any, scrub: Scrub, depth: int = 0) -> Any:
    """A value of a record (an argument, an ``extra`` field) with its text scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, (*_SAFE_TYPES, Redacted)):
        return value
    kind = type(value)
    if depth < 3 and kind in (dict, list, tuple):
        if kind is dict:
            return {k: scrub_value(v, scrub, depth + 1) for k, v in value.items()}
        return kind(scrub_value(v, scrub, depth + 1) for v in value)
    return Redacted(value, scrub)


def scrub_extras(record: logging.LogRecord, scrub: Scrub, keep: frozenset[str]) -> None:
    fields = record.__dict__
    if len(fields) <= _PLAIN_SIZE:
        return  # a record as logging made it: no extra field (the common case, and cheap)
    for key in fields.keys() - STANDARD_ATTRIBUTES - keep:
        fields[key] = scrub_value(fields[key], scrub)


def scrub_exception(record: logging.LogRecord, traceback: Scrub) -> None:
    """Formats the traceback now, scrubbed, into ``exc_text``, which formatters print as is.

    ``exc_info`` stays, for error trackers that read the exception object itself.
    """
    if record.exc_info and not record.exc_text:
        record.exc_text = traceback(_FORMATTER.formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = traceback(record.exc_text)
    if record.stack_info:
        record.stack_info = traceback(record.stack_info)


def first_visit(record: logging.LogRecord) -> bool:
    """False when this thread's filters have already scrubbed ``record`` (a logger's filter
    and then a handler's): scrubbed twice, a keyed hash would read as a token."""
    if getattr(_seen, "record", None) is record:
        return False
    _seen.record = record
    return True


def withhold(record: logging.LogRecord, exc: Exception) -> None:
    record.msg = WITHHELD % type(exc).__name__
    record.args = None
    record.exc_info = record.exc_text = record.stack_info = None


class Binding:
    """Which privlog a filter follows: the one given, or the one an adapter built most
    recently (:func:`wired`), and the :class:`LogShaper` of its stream, built once per privlog."""

    def __init__(self, privlog: PrivacyLog | None = None, stream: str | None = None) -> None:
        if privlog is not None:
            choose_stream(privlog.pipeline, stream)  # an unknown stream fails now, by name
        self.privlog = privlog
        self.stream = stream
        self._cached: tuple[object, LogShaper] = (object(), LogShaper())

    def shaper(self) -> LogShaper:
        privlog = self.privlog or _wired
        cached_for, shaper = self._cached
        if cached_for is privlog:
            return shaper
        if privlog is None:
            shaper = LogShaper()
        else:
            pipeline = privlog.pipeline
            names = {s.name for s in pipeline.policy.streams}
            stream = choose_stream(pipeline, self.stream if self.stream in names else None)
            shaper = LogShaper(pipeline, stream)
        self._cached = (privlog, shaper)
        return shaper


class ScrubbingFilter(logging.Filter):
    """Scrubs the app's own log records: message, arguments, ``extra`` fields and traceback.

    Addresses get the client-address action of the policy's first request stream (or of
    ``stream=``); e-mails, UUIDs, credentials and generated-looking tokens become
    placeholders. ``privlog=None`` follows the privlog the app's middleware built, so the
    filter can be named in a ``dictConfig`` before the app exists
    (``{"()": "privlog.logging.ScrubbingFilter"}``). ``keep`` names ``extra`` fields left as
    they are (default: OpenTelemetry's trace and span ids).
    """

    def __init__(
        self,
        privlog: PrivacyLog | None = None,
        *,
        stream: str | None = None,
        keep: Iterable[str] = DEFAULT_KEEP,
        name: str = "",
    ) -> None:
        super().__init__(name)
        self._binding = Binding(privlog, stream)
        self._keep = frozenset(keep)

    def filter(self, record: logging.LogRecord) -> bool:
        if not first_visit(record):
            return True
        try:
            shaper = self._binding.shaper()
            scrub = shaper.text
            try:
                message = record.getMessage()
            except Exception:  # a broken format: the handler will say so, with scrubbed parts
                record.msg = scrub(str(record.msg))
                if isinstance(record.args, tuple):
                    record.args = tuple(scrub_value(a, scrub) for a in record.args)
            else:
                clean = scrub(message)
                if clean != message:
                    record.msg, record.args = clean, None
            scrub_exception(record, lambda text: scrub_traceback(text, scrub))
            scrub_extras(record, scrub, self._keep)
        except Exception as exc:
            withhold(record, exc)
        return True
