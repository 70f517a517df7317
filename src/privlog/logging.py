"""privlog for the process's logs: the servers' own loggers and the app's messages.

- :func:`install` puts privlog's filter on the servers' and frameworks' loggers
  (:data:`SERVER_LOGGERS`: uvicorn, gunicorn, hypercorn, werkzeug, waitress, Django). The
  adapters do this for you (opt out with ``server_logs=False``); call it yourself to pick the
  stream whose rules shape the lines (``stream="analytics"``) or to drop access lines
  (``mode="drop"``).
- :class:`ScrubbingFilter` scrubs the app's own records: addresses by the policy's
  client-address action, e-mails, UUIDs, credentials and generated-looking tokens replaced.
- For structlog, :class:`privlog.structlog.ScrubProcessor`; for gunicorn's arbiter too,
  ``--logger-class privlog.gunicorn.Logger``.
"""

from __future__ import annotations

from ._logging.records import DEFAULT_KEEP, ScrubbingFilter
from ._logging.servers import SERVER_LOGGERS, ServerLogFilter, ServerLogs, install, uninstall

__all__ = [
    "DEFAULT_KEEP",
    "SERVER_LOGGERS",
    "ScrubbingFilter",
    "ServerLogFilter",
    "ServerLogs",
    "install",
    "uninstall",
]
