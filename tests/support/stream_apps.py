"""A WSGI app that streams for a while, logged to the JSONL store ``PRIVLOG_TEST_DIR``, for the
servers ``test_responses.py`` runs in their own process (gunicorn, uWSGI)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from privlog import Policy
from privlog.wsgi import PrivacyLogMiddleware

from .policies import policy_dict

CHUNK = 16384


def endless(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    """201 and up to 200 chunks, 50 ms apart (10 s at most): a client hangs up on it."""
    start_response("201 Created", [("Content-Type", "application/octet-stream")])
    for _ in range(200):
        yield b"x" * CHUNK
        time.sleep(0.05)


def _logged() -> Any:
    data = policy_dict(path="template", status="keep", response_bytes="keep")
    data["export"] = {"sink": "jsonl", "directory": os.environ["PRIVLOG_TEST_DIR"], "flush_interval": 0.1}
    return PrivacyLogMiddleware(endless, Policy.from_dict(data, environ={}))


logged = _logged() if "PRIVLOG_TEST_DIR" in os.environ else None
