"""Shared fixtures: a secret in the environment, policies, and a capturing sink."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from privlog import Output, Policy, PrivacyLog

SECRET = "k" * 16 + "0123456789abcdef0123"  # 36 bytes, test-only
ENV = {"PRIVLOG_SECRET": SECRET}


class ListSink:
    """A sink that keeps what it receives, for assertions."""

    def __init__(self) -> None:
        self.records: list[Output] = []
        self.flushed = 0
        self.closed = False

    def write(self, records: Sequence[Output]) -> None:
        self.records.extend(records)

    def flush(self) -> None:
        self.flushed += 1

    def close(self) -> None:
        self.closed = True

    def stream(self, name: str) -> list[dict[str, Any]]:
        return [r.attributes for r in self.records if r.stream == name]


def policy_dict(**stream_fields: Any) -> dict[str, Any]:
    """A one-stream policy with the given fields (defaults: a typical access log)."""
    fields = stream_fields or {
        "timestamp": "keep",
        "method": "keep",
        "path": "template",
        "status": "keep",
        "client_ip": "truncate",
        "user_agent": "generalise",
        "referrer": "origin",
    }
    return {
        "service": "test",
        "retention": {"access": {"days": 7, "purpose": "operations", "legal_basis": "legitimate interest"}},
        "streams": {"access": {"retention": "access", "fields": fields}},
    }


FULL = {
    "service": "test",
    "proxies": {"trusted": ["127.0.0.1", "10.0.0.0/8"]},
    "retention": {
        "security": {"days": 90, "purpose": "security", "legal_basis": "legitimate interest"},
        "analytics": {"days": 7, "purpose": "statistics", "legal_basis": "consent"},
    },
    "streams": {
        "security": {
            "retention": "security",
            "events": ["http", "websocket", "auth"],
            "fields": {
                "timestamp": "keep",
                "duration": "keep",
                "method": "keep",
                "scheme": "keep",
                "http_version": "keep",
                "path": "template",
                "status": "keep",
                "request_bytes": "keep",
                "response_bytes": "keep",
                "user_agent": "generalise",
                "language": "generalise",
                "client_ip": "hash",
                "client_port": "keep",
                "user_id": "pseudonymise",
                "session_id": {"action": "pseudonymise", "cookie": "session"},
            },
            "headers": {"x-request-id": "keep", "x-tenant": "hash"},
        },
        "analytics": {
            "retention": "analytics",
            "consent_gated": True,
            "fields": {
                "path": "template",
                "status": "keep",
                "referrer": "origin",
                "client_ip": "truncate",
                "query": {"action": "allowlist", "allow": ["page", "q"], "values": ["page"]},
            },
        },
    },
}


@pytest.fixture
def full_policy() -> Policy:
    return Policy.from_dict(FULL, environ=ENV)


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def privlog(sink: ListSink) -> Iterator[PrivacyLog]:
    """A PrivacyLog with the FULL policy writing to ``sink``; closed after the test."""
    pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink])
    yield pl
    pl.close()


def security(sink: ListSink, privlog: PrivacyLog) -> list[dict[str, Any]]:
    """The security stream's records so far (flushes the worker first)."""
    privlog.flush()
    return sink.stream("security")
