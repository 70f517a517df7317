"""The field catalogue: every field privlog can capture, the actions each accepts, its default.

Taken from what the privacy policies in the project's seeds list about request logs. A field
not named in a stream's policy is never captured.
"""

from __future__ import annotations

from typing import Final

#: Actions that need a secret key.
KEYED_ACTIONS: Final = frozenset({"hash", "pseudonymise", "reversible", "cryptopan"})

#: field name -> (allowed actions, default action). "drop" is accepted for every field.
FIELDS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "timestamp": (frozenset({"keep"}), "keep"),
    "duration": (frozenset({"keep"}), "keep"),
    "method": (frozenset({"keep"}), "keep"),
    "scheme": (frozenset({"keep"}), "keep"),
    "http_version": (frozenset({"keep"}), "keep"),
    "path": (frozenset({"template", "scrub", "keep"}), "template"),
    "query": (frozenset({"allowlist"}), "allowlist"),
    "status": (frozenset({"keep"}), "keep"),
    "request_bytes": (frozenset({"keep"}), "keep"),
    "response_bytes": (frozenset({"keep"}), "keep"),
    "referrer": (frozenset({"origin", "keep"}), "origin"),
    "user_agent": (frozenset({"generalise", "keep"}), "generalise"),
    "language": (frozenset({"generalise"}), "generalise"),
    "client_ip": (frozenset({"truncate", "hash", "cryptopan", "keep"}), "truncate"),
    "client_port": (frozenset({"keep"}), "keep"),
    "location": (frozenset({"country", "region", "city"}), "country"),
    "user_id": (frozenset({"pseudonymise", "hash", "reversible", "keep"}), "pseudonymise"),
    "session_id": (frozenset({"pseudonymise", "hash", "reversible", "keep"}), "pseudonymise"),
}

#: Actions allowed on an allow-listed request header.
HEADER_ACTIONS: Final = frozenset({"keep", "hash", "pseudonymise", "reversible"})

#: Options each action accepts in the table form ``{ action = "...", option = ... }``.
ACTION_OPTIONS: Final[dict[str, frozenset[str]]] = {
    "truncate": frozenset({"ipv4_prefix", "ipv6_prefix"}),
    "allowlist": frozenset({"allow", "values"}),
    "pseudonymise": frozenset({"cookie"}),
    "hash": frozenset({"cookie"}),
    "reversible": frozenset({"cookie"}),
    "keep": frozenset({"cookie"}),
}

#: Kinds of record a stream can take.
EVENT_KINDS: Final = frozenset({"http", "websocket", "auth"})

#: Request headers a field reads; used to pick headers once, at start-up.
FIELD_HEADERS: Final[dict[str, tuple[bytes, ...]]] = {
    "referrer": (b"referer",),
    "user_agent": (b"user-agent",),
    "language": (b"accept-language",),
    "request_bytes": (b"content-length",),
    "session_id": (b"cookie",),
}

#: Headers that signal an opt-out of consent-gated streams.
OPT_OUT_HEADERS: Final = (b"sec-gpc", b"dnt")
