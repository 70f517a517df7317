"""The servers' and frameworks' own loggers, shaped by the policy.

Each server writes an access line of its own (uvicorn, gunicorn, hypercorn, werkzeug,
Django's runserver) and error lines that quote the request (``Not Found: /users/4711``,
``Exception on /nope/jane@example.com [GET]``). privlog's record of the request replaces the
access line; by default the line stays but says only what the record says (``rewrite``), or
goes (``drop``). Every other message of these loggers is scrubbed: request paths shaped as the
record's, addresses by the client-address action, e-mails and tokens replaced.

A filter sits on each logger itself, not on a handler: ``dictConfig``, ``--log-config`` and
uvicorn's own configuration replace handlers, but keep a logger's filters, so the filter
holds whichever runs first. Installing is idempotent (one filter per logger, rebound).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from .._errors import PolicyError
from .._privacylog import PrivacyLog
from .._transforms.address import parse_ip
from .._transforms.freetext import is_private_to_host
from .records import (
    Binding,
    Redacted,
    first_visit,
    follow,
    scrub_exception,
    scrub_extras,
    withhold,
)
from .shape import LogShaper

ServerLogs = Literal["rewrite", "drop", "off"]
"""``rewrite``: access lines say what privlog's record says; ``drop``: access lines go;
``off``: the server's loggers are left alone. Other messages are scrubbed unless ``off``."""

_DJANGO_SECURITY = (
    "csrf",
    "DisallowedHost",
    "DisallowedRedirect",
    "RequestDataTooBig",
    "SuspiciousFileOperation",
    "SuspiciousMultipartForm",
    "SuspiciousOperation",
    "SuspiciousSession",
    "TooManyFieldsSent",
    "TooManyFilesSent",
)
#: The loggers the adapters filter: a filter on a logger no server uses costs nothing.
SERVER_LOGGERS: tuple[str, ...] = (
    "uvicorn.access",
    "uvicorn.error",
    "gunicorn.access",
    "gunicorn.error",
    "hypercorn.access",
    "hypercorn.error",
    "werkzeug",
    "waitress",
    "waitress.queue",
    "django.server",
    "django.request",
    *(f"django.security.{name}" for name in _DJANGO_SECURITY),
)

log = logging.getLogger("privlog")
Rewrite = Callable[[logging.LogRecord, LogShaper, bool], "bool | None"]
"""Shapes a server's access line in place: True when it was one, None when it was not, False
when it is one and ``drop`` asks for it to go."""


def _arg(value: Any, shaper: LogShaper) -> Any:
    """An argument of a server's message: a path, request line, address or text."""
    if isinstance(value, str):
        if value.startswith("/"):
            return shaper.message_target(value)
        if " " in value:
            line = shaper.request_line(value)
            if line is not None:
                return line
        elif (value and value[-1].isdigit()) or ":" in value:
            client = shaper.client(value)
            if client is not None:
                return value if _is_host_address(value) else client
        return shaper.server_text(value)
    if isinstance(value, (int, float)) or value is None:
        return value
    return Redacted(value, shaper.server_text)


def _is_host_address(value: str) -> bool:
    """``127.0.0.1``, ``0.0.0.0:8000``, ``::1``: the server's own address, as in its banner."""
    packed = parse_ip(value) or parse_ip(value.rpartition(":")[0])
    return packed is not None and is_private_to_host(packed)


def _generic(record: logging.LogRecord, shaper: LogShaper) -> None:
    text = shaper.server_text
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_arg(a, shaper) for a in args)
    elif isinstance(args, Mapping):
        record.args = {k: _arg(v, shaper) for k, v in args.items()}
    msg = record.msg
    record.msg = text(msg) if isinstance(msg, str) else Redacted(msg, text)


_UVICORN_ACCESS = '%s - "%s %s HTTP/%s" %d'


def _uvicorn_access(record: logging.LogRecord, shaper: LogShaper, drop: bool) -> bool | None:
    args = record.args
    if record.msg != _UVICORN_ACCESS or not isinstance(args, tuple) or len(args) != 5:
        return None
    if drop:
        return False
    client, method, target, version, status = args
    record.args = (
        shaper.client(str(client), with_port=True) or "-",
        shaper.method(str(method)),
        shaper.target(str(target)),
        version,
        status,
    )
    return True


def _uvicorn_error(record: logging.LogRecord, shaper: LogShaper, drop: bool) -> bool | None:
    """uvicorn logs WebSocket handshakes as ``'%s - "WebSocket %s" ...'``: an access line."""
    args = record.args
    msg = record.msg
    if not (isinstance(msg, str) and msg.startswith('%s - "WebSocket %s"')):
        return None
    if not isinstance(args, tuple) or len(args) < 2:
        return None
    if drop:
        return False
    record.args = (
        shaper.client(str(args[0]), with_port=True) or "-",
        shaper.target(str(args[1])),
        *args[2:],
    )  # the WebSocket's access line: shaped like uvicorn's others
    return True


def _atom(key: str, value: Any, shaper: LogShaper, with_port: bool) -> Any:
    """One atom of gunicorn's or hypercorn's access-log format, as the policy shapes it."""
    if key in _KEPT_ATOMS:
        return value
    if not isinstance(value, str):
        return "-"
    if key == "h":
        return shaper.client(value, with_port=with_port) or "-"
    if key in ("r", "R"):
        return shaper.request_line(value) or "-"
    if key in ("U", "Uq"):
        return shaper.target(value)
    if key == "q":
        return shaper.query(value)
    if key == "m":
        return shaper.method(value)
    if key == "a":
        return shaper.user_agent(value)
    if key == "f":
        return shaper.referrer(value)
    if key.startswith("{") and len(key) > 3:
        name, kind = key[1:-2].lower(), key[-1]
        if kind == "i":
            if name == "user-agent":
                return shaper.user_agent(value)
            if name == "referer":
                return shaper.referrer(value)
            return shaper.header(name, value)
        if kind == "o":
            return shaper.response_header(name, value)
    return "-"  # l, u (the Basic-auth user name), environment variables, anything unknown


#: Atoms without personal data: time, status, sizes, durations, protocol, worker pid.
_KEPT_ATOMS = frozenset({"t", "s", "st", "S", "H", "b", "B", "T", "D", "M", "L", "p"})


def _access_atoms(with_port: bool) -> Rewrite:
    """gunicorn and hypercorn log ``access_log_format % atoms``: the atoms are reshaped in
    place, so their mapping keeps its class (and its ``-`` for a missing atom)."""

    def rewrite(record: logging.LogRecord, shaper: LogShaper, drop: bool) -> bool | None:
        atoms = record.args
        if not isinstance(atoms, dict):
            return None
        if drop:
            return False
        shaped = {k: _atom(k, v, shaper, with_port) for k, v in dict.items(atoms)}
        dict.clear(atoms)
        dict.update(atoms, shaped)
        return True

    return rewrite


_WERKZEUG_LINE = re.compile(r"(\S+) - - \[([^\]]*)\] (.*)", re.S)
_ANSI = re.compile(r"((?:\x1b\[[\d;]*m)*)(.*?)((?:\x1b\[[\d;]*m)*)", re.S)


def _colours(text: str) -> tuple[str, str, str]:
    """werkzeug's colour codes before and after a request line, and the line between them."""
    styled = _ANSI.fullmatch(text)
    if styled is None:  # the pattern matches any text; were it not to, the whole text is shaped
        return "", text, ""
    before, line, after = styled.groups()
    return before, line, after


def _werkzeug(record: logging.LogRecord, shaper: LogShaper, drop: bool) -> bool | None:
    """werkzeug writes the client address into the message itself: ``ADDR - - [date] ...``."""
    msg = record.msg
    found = _WERKZEUG_LINE.fullmatch(msg) if isinstance(msg, str) else None
    if found is None:
        return None
    address, date, rest = found.groups()
    args = record.args if isinstance(record.args, tuple) else ()
    access = rest.startswith('"%s" %s %s') and len(args) == 3
    if access and drop:
        return False
    client = shaper.client(address.replace("%%", "%")) or "-"
    record.msg = f"{client} - - [{date}] {shaper.server_text(rest)}"
    if access:
        before, line, after = _colours(str(args[0]))
        shaped = shaper.request_line(line) or shaper.server_text(line)
        record.args = (before + shaped + after, args[1], args[2])
    elif args:
        record.args = tuple(_arg(a, shaper) for a in args)
    return True


def _django_server(record: logging.LogRecord, shaper: LogShaper, drop: bool) -> bool | None:
    """runserver's access line: ``'"%s" %s %s'`` with the raw request line."""
    args = record.args
    if record.msg != '"%s" %s %s' or not isinstance(args, tuple) or len(args) != 3:
        return None
    if drop:
        return False
    line = str(args[0])
    record.args = (shaper.request_line(line) or shaper.server_text(line), args[1], args[2])
    return True


_ACCESS: dict[str, Rewrite] = {
    "uvicorn.access": _uvicorn_access,
    "uvicorn.error": _uvicorn_error,
    "gunicorn.access": _access_atoms(with_port=False),
    "hypercorn.access": _access_atoms(with_port=True),
    "werkzeug": _werkzeug,
    "django.server": _django_server,
}


class ServerLogFilter(logging.Filter):
    """The filter privlog puts on a server's or framework's logger (see the module doc)."""

    def __init__(
        self,
        privlog: PrivacyLog | None = None,
        *,
        mode: ServerLogs = "rewrite",
        stream: str | None = None,
    ) -> None:
        super().__init__()
        self.bind(privlog, mode=mode, stream=stream)

    def bind(
        self, privlog: PrivacyLog | None, *, mode: ServerLogs = "rewrite", stream: str | None = None
    ) -> None:
        """Follow ``privlog`` (None: the one an adapter built most recently) with ``mode``."""
        self._binding = Binding(privlog, stream)
        self._drop = mode == "drop"

    def filter(self, record: logging.LogRecord) -> bool:
        if not first_visit(record):
            return True
        try:
            shaper = self._binding.shaper()
            rewrite = _ACCESS.get(record.name)
            done = rewrite(record, shaper, self._drop) if rewrite is not None else None
            if done is False:
                return False
            if done is None:
                _generic(record, shaper)
            scrub_exception(record, shaper.traceback)
            scrub_extras(record, shaper.server_text, frozenset())
        except Exception as exc:
            withhold(record, exc)
        return True


def server_logs_mode(value: object, setting: str) -> ServerLogs:
    """``True``/``"rewrite"``, ``"drop"``, ``False``/``"off"``; else a PolicyError naming ``setting``."""
    if value is True or value == "rewrite":
        return "rewrite"
    if value is False or value == "off":
        return "off"
    if value == "drop":
        return "drop"
    raise PolicyError(
        setting,
        f"must be 'rewrite', 'drop' or False, got {value!r}",
        "use 'rewrite' (the default), 'drop' to remove the servers' access lines, or False",
    )


def install(
    privlog: PrivacyLog | None = None,
    *,
    mode: ServerLogs = "rewrite",
    stream: str | None = None,
    loggers: Iterable[str] = SERVER_LOGGERS,
) -> None:
    """Put privlog's filter on each of ``loggers`` (or rebind the one already there)."""
    mode = server_logs_mode(mode, "mode")
    if mode == "off":
        uninstall(loggers)
        return
    Binding(privlog, stream)  # an unknown stream fails here, before any logger changes
    for name in loggers:
        logger = logging.getLogger(name)
        existing = next((f for f in logger.filters if isinstance(f, ServerLogFilter)), None)
        if existing is not None:
            existing.bind(privlog, mode=mode, stream=stream)
        else:
            logger.addFilter(ServerLogFilter(privlog, mode=mode, stream=stream))


def uninstall(loggers: Iterable[str] = SERVER_LOGGERS) -> None:
    """Remove privlog's filter from each of ``loggers``."""
    for name in loggers:
        logger = logging.getLogger(name)
        for f in [f for f in logger.filters if isinstance(f, ServerLogFilter)]:
            logger.removeFilter(f)


def wire(privlog: PrivacyLog, mode: ServerLogs, extra: Iterable[str] = ()) -> None:
    """What an adapter does at start-up, with ``mode`` checked by :func:`server_logs_mode`
    before anything was built. Nothing going wrong here reaches the app: it is a warning."""
    follow(privlog)
    if mode == "off":
        return
    try:
        install(privlog, mode=mode, loggers=(*SERVER_LOGGERS, *extra))
    except Exception as exc:
        log.warning("privlog: the servers' loggers are not filtered (%s)", type(exc).__name__)
