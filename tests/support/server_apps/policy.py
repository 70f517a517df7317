"""The policy of the server-log test apps: the README's seven-day access log, behind a proxy.

``PRIVLOG_TEST_DIR`` says where the JSONL store writes; ``127.0.0.1`` is the trusted proxy, so
``X-Forwarded-For`` from the test client is the client's address.
"""

from __future__ import annotations

import os
from typing import Any

POLICY: dict[str, Any] = {
    "service": "server-logs-test",
    "proxies": {"trusted": ["127.0.0.1"]},
    "retention": {
        "anonymous_access": {
            "days": 7,
            "purpose": "technical operation and security of the website",
            "legal_basis": "legitimate interest, Art. 6(1)(f) GDPR",
        }
    },
    "streams": {
        "access": {
            "retention": "anonymous_access",
            "fields": {
                "timestamp": "keep",
                "method": "keep",
                "path": "template",
                "status": "keep",
                "response_bytes": "keep",
                "referrer": "origin",
                "user_agent": "generalise",
                "client_ip": {"action": "truncate", "ipv4_prefix": 16, "ipv6_prefix": 32},
                "query": {"action": "allowlist", "allow": ["page"]},
            },
        }
    },
    "export": {"sink": "jsonl", "directory": os.environ.get("PRIVLOG_TEST_DIR", "privlog-logs")},
}
