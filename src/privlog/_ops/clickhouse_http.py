"""ClickHouse's HTTP interface, for ``privlog audit --clickhouse`` and ``retention sweep --clickhouse``.

A URL's ``user:password@`` is not something urllib sends: it takes it for part of the host name,
so the server never sees it. Here it becomes ClickHouse's own credential headers
(``X-ClickHouse-User``, ``X-ClickHouse-Key``), percent-decoded, and is stripped from the URL
requested. Without it the user and password come from ``CLICKHOUSE_USER`` and
``CLICKHOUSE_PASSWORD``, as clickhouse-client reads them, so a password need not be on a command
line where ``ps`` shows it. Messages name the server by host and port only.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from .._errors import UsageError

_AUTH_FAILED = "516"  # ClickHouse's AUTHENTICATION_FAILED, sent as X-ClickHouse-Exception-Code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Credentials are for the server named, not for wherever it points to."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclasses.dataclass(frozen=True)
class ClickHouseHTTP:
    """A server's HTTP interface: ``url`` without credentials, ``where`` its host and port."""

    url: str
    where: str
    headers: Mapping[str, str] = dataclasses.field(repr=False)

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str] = os.environ) -> ClickHouseHTTP:
        """The server at ``url`` (``http[s]://[user[:password]@]host:port/``)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise UsageError(
                "--clickhouse", "is not an HTTP URL", "give the server's HTTP interface, e.g. http://localhost:8123"
            )
        userinfo, at, host = parts.netloc.rpartition("@")
        name, colon, secret = userinfo.partition(":")
        user = urllib.parse.unquote(name) if at and name else environ.get("CLICKHOUSE_USER", "")
        password = urllib.parse.unquote(secret) if colon else environ.get("CLICKHOUSE_PASSWORD", "")
        headers = {}
        for header, value in (("X-ClickHouse-User", user), ("X-ClickHouse-Key", password)):
            if any(ord(c) < 0x20 or c == "\x7f" for c in value):  # never echoed: it may be the password
                raise UsageError(
                    "--clickhouse", "the user or password has a control character", "percent-encode only printable text"
                )
            if value:  # UTF-8 on the wire: http.client writes a header's text as Latin-1
                headers[header] = value.encode().decode("latin-1")
        clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
        return cls(clean, host or "(no host)", headers)

    def post(self, statement: str, timeout: float) -> Any:
        """The server's answer to ``statement`` (a response to use in ``with``); raises
        ``OSError`` (``urllib.error.HTTPError`` for a refusal) or ``ValueError``."""
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in from_url
            self.url, data=statement.encode(), method="POST", headers=dict(self.headers)
        )
        return _OPENER.open(request, timeout=timeout)


def failure(exc: Exception) -> str:
    """Why a request failed, in words that name neither the URL's credentials nor data."""
    if isinstance(exc, urllib.error.HTTPError):
        said = f"HTTP {exc.code}"
        code = exc.headers.get("X-ClickHouse-Exception-Code") if exc.headers else None
        if exc.code in (401, 403) or code == _AUTH_FAILED:
            return said + ": the user or password was refused"
        return said + (f", ClickHouse error {code}" if code else "")
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, ValueError):  # http.client's InvalidURL and others may quote what they read
        return type(exc).__name__
    return str(exc)
