"""Policies the tests use: a secret, a typical access log, and a full two-stream policy."""

from __future__ import annotations

from typing import Any

REQUEST_ID = "9b2f6f5e-3c1a-4c7e-9d1a-2f8b7c6d5e4f"
"""A request id of the shape the policies keep (a UUID)."""
SECRET = "k" * 16 + "0123456789abcdef0123"  # 36 bytes, test-only
ENV = {"PRIVLOG_SECRET": SECRET}


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
            "headers": {"x-request-id": {"action": "keep", "pattern": "uuid"}, "x-tenant": "hash"},
        },
        "analytics": {
            "retention": "analytics",
            "consent_gated": True,
            "fields": {
                "path": "template",
                "status": "keep",
                "referrer": "origin",
                "client_ip": "truncate",
                "query": {"action": "allowlist", "allow": ["page", "q"], "values": {"page": "int"}},
            },
        },
    },
}
