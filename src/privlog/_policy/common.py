"""Helpers shared by the policy validators."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .._errors import PolicyError, did_you_mean
from .._keys.epochs import MAX_RETENTION_DAYS as MAX_RETENTION_DAYS


def as_table(value: Any, setting: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(
            setting, f"must be a table, got {type(value).__name__}", f"write [{setting}] with keys"
        )
    return value


def check_keys(table: Mapping[str, Any], allowed: frozenset[str], setting: str) -> None:
    for key in table:
        if key not in allowed:
            raise PolicyError(f"{setting}.{key}", "unknown setting", did_you_mean(str(key), allowed))


def choice(value: Any, choices: Collection[str], setting: str, what: str) -> str:
    """``value`` if it is one of ``choices``; else a PolicyError naming the nearest one.

    Checks the type first: a list or table where a name belongs is an error, not a TypeError.
    """
    if isinstance(value, str) and value in choices:
        return value
    if isinstance(value, str):
        raise PolicyError(setting, f"unknown {what} {value!r}", did_you_mean(value, choices))
    raise PolicyError(
        setting, f"must be the name of a {what}, got a {type(value).__name__}", did_you_mean("", choices)
    )
