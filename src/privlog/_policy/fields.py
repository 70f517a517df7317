"""Validation of a stream's fields and headers: actions, their options, and what may never be kept."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import PolicyError, did_you_mean
from .._transforms.shapes import ShapeSpec, parse_shape
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
#: Words in a header name that say it carries a credential, a client address or a person's
#: identity. Such a header is never kept raw (it may be hashed or pseudonymised): a session id
#: or a user id fits a "uuid" or "int" shape as well as a request id does.
_SENSITIVE_WORDS = (
    "credential", "token", "key", "secret", "session", "signature", "jwt", "auth", "cookie",
    "password", "passwd", "csrf", "xsrf", "oidc", "dpop", "assertion", "cert", "forward",
    "user", "account", "customer", "member", "visitor", "device", "email", "phone", "principal",
    "identity",
)  # fmt: skip
#: Parts of a header name (between ``-`` or ``_``) that say it holds an address or a signature.
_SENSITIVE_PARTS = frozenset({"ip", "addr", "address", "sig"})
#: Headers a field reads and transforms: kept raw as headers, they would bypass the field.
_FIELD_HEADERS = {"user-agent": "user_agent", "referer": "referrer", "accept-language": "language"}

SPELLINGS = {"generalize": "generalise", "pseudonymize": "pseudonymise"}
"""American spellings of actions, accepted as the British names privlog uses."""


def suggest_action(name: str, actions: Iterable[str]) -> str:
    """The fix for an unknown action: the nearest one in both spellings, and every choice."""
    options = sorted(actions)
    american = {uk: us for us, uk in SPELLINGS.items()}
    listing = ", ".join(f"{a} (or {american[a]})" if a in american else a for a in options)
    spelt = sorted({*options, *(american[a] for a in options if a in american)})
    close = difflib.get_close_matches(name, spelt, n=1, cutoff=0.6)
    if not close:
        return f"use one of: {listing}"
    best = SPELLINGS.get(close[0], close[0])
    named = f"{best!r} (or {american[best]!r})" if best in american else repr(best)
    return f"did you mean {named}? Valid names: {listing}"


def parse_fields(value: Any, setting: str) -> dict[str, FieldRule]:
    """A stream's ``fields`` table, checked against the field registry."""
    if value is None:
        raise PolicyError(
            setting, "no field is listed", 'add e.g. fields = { path = "template", status = "keep" }'
        )
    table = as_table(value, setting)
    if not table:
        raise PolicyError(
            setting, "no field is listed", 'add e.g. fields = { path = "template", status = "keep" }'
        )
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
        action = SPELLINGS.get(action, action) if isinstance(action, str) else action
        if not isinstance(action, str):
            raise PolicyError(
                fsetting, f"the action must be a name, got a {type(action).__name__}", suggest_action("", field.actions)
            )
        if action == "drop":
            continue
        if action not in field.actions:
            raise PolicyError(
                fsetting,
                f"action {action!r} is not valid for this field",
                suggest_action(str(action), {*field.actions, "drop"}),
            )
        known = field.options.get(action, ())
        check_keys(options, frozenset(o.name for o in known), fsetting)
        for option in known:
            options[option.name] = option.check(options.get(option.name, option.default), f"{fsetting}.{option.name}")
        if field.check_rule is not None:
            field.check_rule(options, fsetting)
        rules[name] = FieldRule(action=action, options=options)
    return rules


def parse_headers(value: Any, setting: str) -> tuple[dict[str, str], dict[str, ShapeSpec]]:
    """A stream's ``headers`` table: ``name = "hash"``, or ``{ action = "keep", pattern = ... }``;
    the action of each header, and the pattern of each kept one."""
    table = as_table(value, setting)
    out: dict[str, str] = {}
    patterns: dict[str, ShapeSpec] = {}
    for name, spec in table.items():
        hsetting = f"{setting}.{name}"
        lname = str(name).lower()
        if is_credential_header(lname):
            raise PolicyError(
                hsetting,
                "credentials are never logged as headers",
                "remove it (use session_id for a session cookie, user_id for the user)",
            )
        options: dict[str, Any] = {}
        if isinstance(spec, Mapping):
            options = {k: v for k, v in spec.items() if k != "action"}
            action = spec.get("action", "keep" if "pattern" in options else None)
            check_keys(options, frozenset({"pattern"}) if action == "keep" else frozenset(), hsetting)
        else:
            action = spec
        if action == "drop":
            continue
        action = SPELLINGS.get(action, action) if isinstance(action, str) else action
        if not isinstance(action, str):
            raise PolicyError(
                hsetting,
                f"must be the name of a header action, got a {type(action).__name__}",
                suggest_action("", HEADER_ACTIONS),
            )
        if action not in HEADER_ACTIONS:
            raise PolicyError(hsetting, f"unknown header action {action!r}", suggest_action(action, HEADER_ACTIONS))
        if action == "keep":
            patterns[lname] = _kept_header_pattern(lname, options, hsetting)
        out[lname] = action
    return out, patterns


def _kept_header_pattern(name: str, options: Mapping[str, Any], setting: str) -> ShapeSpec:
    if name in _FIELD_HEADERS:
        raise PolicyError(
            setting, "this header is read by a field, which transforms it", f"use the {_FIELD_HEADERS[name]} field"
        )
    if is_sensitive_header(name):
        raise PolicyError(
            setting,
            "this header's name says it carries a credential, a client address or an identity, "
            "which is never kept raw",
            'use "hash" (or "pseudonymise"); for the client address, the client_ip field',
        )
    if "pattern" not in options:
        raise PolicyError(
            setting,
            "a kept header needs a pattern its values must fit (others are dropped and counted)",
            'write { action = "keep", pattern = "uuid" } (or "int", or a list of values), or use "hash"',
        )
    return parse_shape(options["pattern"], f"{setting}.pattern", 'pattern = "uuid"')


def is_sensitive_header(name: str) -> bool:
    """True for a (lower-case) header name that says it carries a credential, an address or
    an identity: ``x-session-id``, ``x-forwarded-client-cert``, ``client-ip``, ``x-user-email``."""
    if any(word in name for word in _SENSITIVE_WORDS):
        return True
    return not _SENSITIVE_PARTS.isdisjoint(name.replace("_", "-").split("-"))


def is_credential_header(name: str) -> bool:
    """True for a (lower-case) header name that carries a credential: never logged."""
    return (
        name in _CREDENTIAL_HEADERS
        or name.endswith(("token", "-api-key", "_api_key"))
        or "secret" in name
        or "password" in name
    )
