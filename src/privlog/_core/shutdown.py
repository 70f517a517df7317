"""Export what is queued when the process is told to stop (SIGTERM), whatever the server does.

``atexit`` is not enough: uvicorn handles SIGTERM, shuts down gracefully, then restores the
default handler and raises SIGTERM again, so the process dies without running ``atexit``;
waitress leaves SIGTERM's default (die at once). privlog puts one handler in front of the one
installed (from the main thread, when the first PrivacyLog is made, or earlier by :func:`arm`:
Django's app does so at start-up, since its PrivacyLog is built on the first request, in a
server's thread where no signal handler can be set). On SIGTERM it:

1. marks every dispatcher as stopping: records finished from now on are exported at once, and
   the ASGI middleware awaits that export (in a thread) before its request task ends, so a
   server that waits for its tasks waits for the records too;
2. exports what is queued in a helper thread, never on the event loop;
3. then delivers the signal again, and this time hands it to the previous handler (uvicorn's,
   gunicorn's) as if it had just arrived; if that was the default, it exports what came in
   meanwhile and dies by SIGTERM as the default would.

A handler installed outside Python (uWSGI's) or an ignored SIGTERM is left alone. Under uWSGI,
whose workers may skip Python's ``atexit`` (``--skip-atexit-teardown``), the export is chained
into ``uwsgi.atexit``, the hook its Python plugin calls when a worker stops.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

log = logging.getLogger("privlog")

FLUSH_TIMEOUT = 10.0  # seconds a shutdown waits for the export before letting the signal through
SIGNALS = (signal.SIGTERM,)

_watched: weakref.WeakSet[Dispatcher] = weakref.WeakSet()
_previous: dict[int, Any] = {}
_lock = threading.RLock()  # re-entrant: a second signal may arrive inside the handler
_flushing: dict[int, threading.Thread] = {}
_flushed: set[int] = set()
_uwsgi_chained = False


def watch(dispatcher: Dispatcher, signals: tuple[int, ...] = SIGNALS) -> None:
    """Export ``dispatcher``'s queue before the process stops on one of ``signals``."""
    _watched.add(dispatcher)
    arm(signals)
    _chain_uwsgi_atexit()


def arm(signals: tuple[int, ...] = SIGNALS) -> bool:
    """Put the handler in front of the current one now, if this is the main thread (the only
    one where Python can set a signal handler); dispatchers watched later, from any thread,
    are exported by it. True if the handler is in place."""
    if threading.current_thread() is not threading.main_thread():
        return all(signal.getsignal(signum) is _on_signal for signum in signals)
    armed = True
    for signum in signals:
        current = signal.getsignal(signum)
        if current is _on_signal:
            continue
        if current is None or current == signal.SIG_IGN:
            armed = False
            continue  # installed outside Python (uWSGI); ignored on purpose
        _previous[signum] = current
        signal.signal(signum, _on_signal)
    return armed


def _chain_uwsgi_atexit() -> None:
    """Under uWSGI, export in ``uwsgi.atexit`` (before any previous hook there): its plugin calls
    it on worker shutdown, also where Python's ``atexit`` is skipped (``--skip-atexit-teardown``).
    uWSGI skips both in a worker still busy with a request: stop it gracefully."""
    global _uwsgi_chained
    if _uwsgi_chained:
        return
    uwsgi = sys.modules.get("uwsgi")  # present only inside uWSGI, which embeds it
    if uwsgi is None:
        return
    _uwsgi_chained = True
    previous = getattr(uwsgi, "atexit", None)

    def privlog_atexit() -> None:
        try:
            close_all()
        finally:
            if callable(previous):
                previous()

    setattr(uwsgi, "atexit", privlog_atexit)  # noqa: B010 - a module that exists only inside uWSGI


def close_all() -> None:
    """Close every watched dispatcher (export, then close the sinks). Never raises."""
    for d in list(_watched):
        try:
            d.close()
        except Exception as exc:
            log.warning("privlog: export at shutdown failed (%s)", type(exc).__name__)


def _stopping() -> list[Dispatcher]:
    dispatchers = list(_watched)
    for d in dispatchers:
        d.stop_soon()
    return dispatchers


def _flush_then_resignal(signum: int) -> None:
    for d in _stopping():
        try:
            d.flush(timeout=FLUSH_TIMEOUT)
        except Exception as exc:  # never keep the process from stopping
            log.warning("privlog: export at shutdown failed (%s)", type(exc).__name__)
    with _lock:
        _flushed.add(signum)
    os.kill(os.getpid(), signum)  # back to the main thread, where signal handlers run


def _on_signal(signum: int, frame: FrameType | None) -> None:
    with _lock:
        if _watched and signum not in _flushed and signum not in _flushing:
            helper = threading.Thread(
                target=_flush_then_resignal, args=(signum,), name="privlog-shutdown", daemon=True
            )
            _flushing[signum] = helper
            helper.start()
            return
        # The export is done (or this is a second signal while it runs, or nothing was ever
        # watched: armed early, by a process that made no PrivacyLog): pass the signal on.
        _flushed.discard(signum)
        _flushing.pop(signum, None)
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        handler: Callable[[int, FrameType | None], Any] = previous
        handler(signum, frame)
        return
    # The default: die by the signal, as without privlog, after exporting what came in since.
    for d in _stopping():
        d.drain(timeout=1.0)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
