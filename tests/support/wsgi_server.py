"""A real WSGI server (waitress) on 127.0.0.1, on a free port, in a thread, for one test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import waitress


@contextmanager
def serve(app: Callable[..., Any]) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields the base URL."""
    server: Any = waitress.create_server(
        app, host="127.0.0.1", port=0, threads=2, clear_untrusted_proxy_headers=False
    )
    stopping = threading.Event()

    def run() -> None:
        # Closing the server's sockets while its loop sits in select() makes that call fail
        # (EBADF); that is the server stopping, as WebTest's StopableWSGIServer also treats it.
        try:
            server.run()
        except (OSError, ValueError):
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, name="waitress-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stopping.set()
        # Let task threads finish their responses first: closing the server under a running
        # task makes waitress's wake-up pipe fail in that thread.
        server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
        server.close()
        thread.join(timeout=5)
        # Accepted connections the client kept alive are still in waitress's socket map: close
        # them too, or the garbage collector reports them later, in some other test.
        for channel in list(server._map.values()):
            channel.close()
