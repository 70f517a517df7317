"""A plain WSGI app wrapped as the README says for "any other WSGI app", for waitress.

``/boom/...`` raises out of the app, so the server itself logs the exception and the path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from privlog import Policy
from privlog.wsgi import PrivacyLogMiddleware

from .policy import POLICY


def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path.startswith("/boom/"):
        raise RuntimeError(f"no account for {path[6:]}")
    if path == "/ready" or path.startswith("/users/"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


app = PrivacyLogMiddleware(inner, Policy.from_dict(POLICY))
