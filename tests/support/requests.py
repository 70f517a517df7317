"""Builders of ASGI scopes and captures carrying personal data, for pipeline tests."""

from __future__ import annotations

from typing import Any

from privlog._core.capture import Capture
from privlog.asgi import read_asgi_scope

from .policies import REQUEST_ID

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def scope(
    client: str = "127.0.0.1", xff: str | None = "203.0.113.195", **extra_headers: str
) -> dict[str, Any]:
    headers = [(b"user-agent", UA.encode()), (b"x-request-id", REQUEST_ID.encode()), (b"x-tenant", b"acme-corp")]
    headers += [
        (b"cookie", b"theme=dark; session=sess-abcdef123456"),
        (b"accept-language", b"de-DE,de;q=0.9"),
    ]
    headers += [(b"referer", b"https://mail.example.com/inbox?email=jane@example.net")]
    if xff is not None:
        headers.append((b"x-forwarded-for", xff.encode()))
    headers += [(k.replace("_", "-").encode(), v.encode()) for k, v in extra_headers.items()]
    return {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "http_version": "1.1",
        "path": "/users/4711",
        "query_string": b"q=jane%40example.net&page=3&token=abc123secret",
        "client": (client, 51234),
        "headers": headers,
        "root_path": "",
    }


def capture(sc: dict[str, Any], user_id: str | None = "alice@example.com", kind: str = "http") -> Capture:
    return Capture.of(
        kind,
        reader=read_asgi_scope,
        source=sc,
        start_ns=1_764_000_000_000_000_000,
        duration_ns=1_500_000,
        status=200,
        request_bytes=10,
        response_bytes=345,
        user_id=user_id,
    )
