"""Helpers shared by the policy validators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import PolicyError, did_you_mean


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
