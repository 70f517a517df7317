"""Validation of a stream's fields and headers: actions, their options, and what may never be kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import PolicyError, did_you_mean
from .catalogue import ACTION_OPTIONS, FIELDS, HEADER_ACTIONS
from .common import as_table, check_keys
from .types import FieldRule

_CREDENTIAL_HEADERS = frozenset(
    {
        "cookie",
        "set-cookie",
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-csrftoken",
        "x-xsrf-token",
        "x-amz-security-token",
        "api-key",
        "apikey",
        "x-apikey",
    }
)
#: Request headers that hold a client address: keyed actions only, never ``keep``.
_ADDRESS_HEADERS = frozenset(
    {
        "x-forwarded-for",
        "forwarded",
        "x-real-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "fastly-client-ip",
    }
)


def parse_fields(value: Any, setting: str) -> dict[str, FieldRule]:
    if value is None:
        raise PolicyError(
            setting, "no field is listed", 'add e.g. fields = { path = "template", status = "keep" }'
        )
    table = as_table(value, setting)
    rules: dict[str, FieldRule] = {}
    for name, spec in table.items():
        fsetting = f"{setting}.{name}"
        if name not in FIELDS:
            raise PolicyError(fsetting, "unknown field", did_you_mean(str(name), FIELDS))
        allowed, default = FIELDS[name]
        options: dict[str, Any] = {}
        if spec is True:
            action = default
        elif isinstance(spec, str):
            action = spec
        elif isinstance(spec, Mapping):
            action = spec.get("action", default)
            options = {k: v for k, v in spec.items() if k != "action"}
        else:
            raise PolicyError(
                fsetting, f"must be an action name or a table, got {spec!r}", f'write {name} = "{default}"'
            )
        if action == "drop":
            continue
        if action not in allowed:
            raise PolicyError(
                fsetting,
                f"action {action!r} is not valid for this field",
                did_you_mean(str(action), allowed | {"drop"}),
            )
        check_keys(options, ACTION_OPTIONS.get(action, frozenset()), fsetting)
        _check_options(name, action, options, fsetting)
        rules[name] = FieldRule(action=action, options=options)
    return rules


def _check_options(name: str, action: str, options: dict[str, Any], setting: str) -> None:
    if action == "truncate":
        for key, top, default in (("ipv4_prefix", 32, 24), ("ipv6_prefix", 128, 48)):
            bits = options.setdefault(key, default)
            if isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits <= top:
                raise PolicyError(
                    f"{setting}.{key}",
                    f"must be a whole number from 0 to {top}, got {bits!r}",
                    f"set {key} = {default}",
                )
    elif action == "allowlist":
        allow = options.setdefault("allow", [])
        values = options.setdefault("values", [])
        for key, names in (("allow", allow), ("values", values)):
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise PolicyError(
                    f"{setting}.{key}", "must be a list of parameter names", f'set {key} = ["page"]'
                )
        for n in values:
            if n not in allow:
                raise PolicyError(
                    f"{setting}.values", f"{n!r} keeps its value but is not in allow", f'add "{n}" to allow'
                )
    if name == "session_id":
        cookie = options.setdefault("cookie", "session")
        if not isinstance(cookie, str) or not cookie:
            raise PolicyError(f"{setting}.cookie", "must name the session cookie", 'set cookie = "sessionid"')
    elif "cookie" in options:
        raise PolicyError(f"{setting}.cookie", "only session_id reads a cookie", "remove the cookie option")


def parse_headers(value: Any, setting: str) -> dict[str, str]:
    table = as_table(value, setting)
    out = {}
    for name, action in table.items():
        hsetting = f"{setting}.{name}"
        lname = str(name).lower()
        if is_credential_header(lname):
            raise PolicyError(
                hsetting,
                "credentials are never logged as headers",
                "remove it (use session_id for a session cookie, user_id for the user)",
            )
        if action == "drop":
            continue
        if action not in HEADER_ACTIONS:
            raise PolicyError(
                hsetting, f"unknown action {action!r}", did_you_mean(str(action), HEADER_ACTIONS)
            )
        if action == "keep" and lname in _ADDRESS_HEADERS:
            raise PolicyError(
                hsetting,
                "this header holds client addresses, which are never kept raw",
                'use "hash" or "pseudonymise", or the client_ip field (which truncates '
                "and believes only [proxies] trusted)",
            )
        out[lname] = action
    return out


def is_credential_header(name: str) -> bool:
    """True for a (lower-case) header name that carries a credential: never logged."""
    return (
        name in _CREDENTIAL_HEADERS
        or name.endswith(("token", "-api-key", "_api_key"))
        or "secret" in name
        or "password" in name
    )
