"""Validation of a stream's fields and headers: actions, their options, and what may never be kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import PolicyError, did_you_mean
from .catalogue import FIELDS, HEADER_ACTIONS
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
    """A stream's ``fields`` table, checked against the field registry."""
    if value is None:
        raise PolicyError(
            setting, "no field is listed", 'add e.g. fields = { path = "template", status = "keep" }'
        )
    table = as_table(value, setting)
    rules: dict[str, FieldRule] = {}
    for name, spec in table.items():
        fsetting = f"{setting}.{name}"
        field = FIELDS.get(name)
        if field is None:
            raise PolicyError(fsetting, "unknown field", did_you_mean(str(name), FIELDS))
        options: dict[str, Any] = {}
        if spec is True:
            action = field.default
        elif isinstance(spec, str):
            action = spec
        elif isinstance(spec, Mapping):
            action = spec.get("action", field.default)
            options = {k: v for k, v in spec.items() if k != "action"}
        else:
            raise PolicyError(
                fsetting, f"must be an action name or a table, got {spec!r}", f'write {name} = "{field.default}"'
            )
        if action == "drop":
            continue
        if action not in field.actions:
            raise PolicyError(
                fsetting,
                f"action {action!r} is not valid for this field",
                did_you_mean(str(action), {*field.actions, "drop"}),
            )
        known = field.options.get(action, ())
        check_keys(options, frozenset(o.name for o in known), fsetting)
        for option in known:
            options[option.name] = option.check(options.get(option.name, option.default), f"{fsetting}.{option.name}")
        if field.check_rule is not None:
            field.check_rule(options, fsetting)
        rules[name] = FieldRule(action=action, options=options)
    return rules


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
