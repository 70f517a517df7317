"""Declared shapes of kept values: a query value or header is kept only when it fits its shape.

An allow-listed name says which parameter or header may appear; its value is still whatever
the client sent (``page=4917055512345``, ``x-request-id: req-jane@example.org``). So a value is
kept only with a declared shape, from a closed vocabulary, and dropped (and counted) otherwise:

- ``"int"``: a whole number of one to six digits (a page, a size; not a phone number);
- ``"uuid"``: a UUID (``8-4-4-4-12`` hex digits), exported in lower case;
- a list of strings: exactly one of them (``["date", "name"]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from .._errors import PolicyError

ShapeSpec = str | tuple[str, ...]
"""A validated shape: a name of :data:`SHAPE_NAMES`, or the allowed values."""

Shape = Callable[[str], "str | None"]
"""The value to export when ``value`` fits the shape, else None."""

_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SHAPE_NAMES: Final = ("int", "uuid")
_MAX_CHOICES: Final = 256
_MAX_CHOICE: Final = 64


def parse_shape(spec: Any, setting: str, example: str) -> ShapeSpec:
    """A shape from the policy, checked; a PolicyError naming ``setting`` otherwise."""
    if isinstance(spec, str):
        if spec in SHAPE_NAMES:
            return spec
        raise PolicyError(
            setting,
            f"unknown shape {spec!r}",
            f'use "int", "uuid" or a list of the values to keep, e.g. {example}',
        )
    if (
        isinstance(spec, list)
        and 0 < len(spec) <= _MAX_CHOICES
        and all(isinstance(v, str) and 0 < len(v) <= _MAX_CHOICE for v in spec)
    ):
        return tuple(spec)
    raise PolicyError(
        setting,
        f"must be a shape, got {spec!r}",
        f'use "int", "uuid" or a list of 1 to {_MAX_CHOICES} non-empty values to keep, e.g. {example}',
    )


def make_shape(spec: ShapeSpec) -> Shape:
    """The matcher of a validated shape."""
    if spec == "int":
        return lambda v: v if len(v) <= 6 and v.isdecimal() and v.isascii() else None
    if spec == "uuid":
        return lambda v: v.lower() if _UUID.fullmatch(v) else None
    choices = frozenset(spec)
    return lambda v: v if v in choices else None
