"""Export what is queued when the process is told to stop (SIGTERM), whatever the server does.

``atexit`` is not enough: uvicorn handles SIGTERM, shuts down gracefully, then restores the
default handler and raises SIGTERM again, so the process dies without running ``atexit``;
waitress leaves SIGTERM's default (die at once). privlog puts one handler in front of the one
installed (from the main thread, when the first PrivacyLog is made). On SIGTERM it:

1. marks every dispatcher as stopping: records finished from now on are exported at once, and
   the ASGI middleware awaits that export (in a thread) before its request task ends, so a
   server that waits for its tasks waits for the records too;
2. exports what is queued in a helper thread, never on the event loop;
3. then delivers the signal again, and this time hands it to the previous handler (uvicorn's,
   gunicorn's) as if it had just arrived; if that was the default, it exports what came in
   meanwhile and dies by SIGTERM as the default would.

A handler installed outside Python (uWSGI's) or an ignored SIGTERM is left alone.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

log = logging.getLogger("privlog")

FLUSH_TIMEOUT = 10.0  # seconds a shutdown waits for the export before letting the signal through

_watched: weakref.WeakSet[Dispatcher] = weakref.WeakSet()
_previous: dict[int, Any] = {}
_lock = threading.RLock()  # re-entrant: a second signal may arrive inside the handler
_flushing: dict[int, threading.Thread] = {}
_flushed: set[int] = set()


def watch(dispatcher: Dispatcher, signals: tuple[int, ...] = (signal.SIGTERM,)) -> None:
    """Export ``dispatcher``'s queue before the process stops on one of ``signals``."""
    _watched.add(dispatcher)
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal works in the main thread only; atexit still runs on a clean exit
    for signum in signals:
        current = signal.getsignal(signum)
        if current is _on_signal or current is None or current == signal.SIG_IGN:
            continue  # already ours; installed outside Python (uWSGI); ignored on purpose
        _previous[signum] = current
        signal.signal(signum, _on_signal)


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
        if signum not in _flushed and signum not in _flushing:
            helper = threading.Thread(
                target=_flush_then_resignal, args=(signum,), name="privlog-shutdown", daemon=True
            )
            _flushing[signum] = helper
            helper.start()
            return
        # The export is done (or this is a second signal while it runs): pass the signal on.
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
