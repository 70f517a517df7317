"""gunicorn's logger with privlog's filters from the start: ``--logger-class privlog.gunicorn.Logger``.

privlog's adapters already filter gunicorn's loggers in each worker, once the app is loaded.
This logger class does it when gunicorn sets up logging (and again on every reload, ``HUP``),
so the arbiter's messages and a worker's before its app is loaded are filtered too, and it
follows whichever privlog the process builds. With the uvicorn worker, uvicorn's loggers
(which the worker points at gunicorn's handlers) are filtered as well.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from ._logging.servers import install

LOGGERS = ("gunicorn.access", "gunicorn.error", "uvicorn.access", "uvicorn.error")
log = logging.getLogger("privlog")


class Logger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's ``glogging.Logger`` whose loggers carry privlog's filter."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        try:
            install(None, loggers=LOGGERS)  # None: the app's privlog, whenever its adapter is built
        except Exception as exc:
            log.warning("privlog: gunicorn's loggers are not filtered (%s)", type(exc).__name__)
