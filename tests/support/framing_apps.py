"""A bare WSGI app returning ``[b"hello"]`` without Content-Length, with and without privlog.

``test_framing.py`` serves both with real servers: privlog must not change the framing the
server chooses (Content-Length, chunked, keep-alive). The store is ``PRIVLOG_TEST_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from privlog import Policy
from privlog.wsgi import PrivacyLogMiddleware

from .policies import policy_dict


def plain(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def _logged() -> Any:
    data = policy_dict()
    data["export"] = {"sink": "jsonl", "directory": os.environ.get("PRIVLOG_TEST_DIR", "privlog-logs")}
    return PrivacyLogMiddleware(plain, Policy.from_dict(data, environ={}))


logged = _logged() if "PRIVLOG_TEST_DIR" in os.environ else None
