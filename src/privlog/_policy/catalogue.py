"""The field registry: every field privlog can capture, in one place.

Taken from what the privacy policies this project was made from list about request logs. A
field not named in a stream's policy is never captured. Each :class:`FieldSpec` says which
actions a field takes (the first is the default; ``drop`` is always accepted), which options
each action accepts and how they are checked, which request headers it reads, which
attributes it writes, and whether it identifies a person (for data-subject requests). The
policy validator, the step compiler, the data-subject tools and the CLI all read this table;
``tests/unit/test_catalogue.py`` checks that every field has a step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .._errors import PolicyError
from .._transforms.shapes import ShapeSpec, parse_shape

#: Actions that need a secret key.
KEYED_ACTIONS: Final = frozenset({"hash", "pseudonymise", "reversible", "cryptopan"})

KEYED_ADDRESS: Final = "privlog.client.address"
"""Where a hashed or Crypto-PAn client address goes: ``client.address`` holds only real
(truncated or kept) addresses, which geo-IP enrichment in a collector may look up."""

#: Actions allowed on an allow-listed request header.
HEADER_ACTIONS: Final = frozenset({"keep", "hash", "pseudonymise", "reversible"})

#: Kinds of record a stream can take.
EVENT_KINDS: Final = frozenset({"http", "websocket", "auth"})

#: Headers that signal an opt-out of consent-gated streams.
OPT_OUT_HEADERS: Final = (b"sec-gpc", b"dnt")

#: The proxy headers the client-address resolver reads (it believes only the configured one).
CLIENT_HEADERS: Final = (b"x-forwarded-for", b"forwarded")

Check = Callable[[Any, str], Any]
"""Checks one option's value (``setting`` names it in errors) and returns it, normalised."""


@dataclass(frozen=True)
class Option:
    """One option of an action in the table form ``{ action = "...", option = ... }``."""

    name: str
    default: Any
    check: Check


@dataclass(frozen=True)
class FieldSpec:
    """Everything privlog knows about one field, read by every part that handles fields."""

    name: str
    actions: tuple[str, ...]
    """Allowed actions, the default first. ``drop`` is accepted for every field."""
    attributes: tuple[str, ...]
    """The record attributes the field writes."""
    headers: tuple[bytes, ...] = ()
    """Request headers the field reads, picked once at start-up."""
    options: Mapping[str, tuple[Option, ...]] = field(default_factory=dict)
    """Options per action."""
    check_rule: Callable[[dict[str, Any], str], None] | None = None
    """A check across a rule's options, after each option's own check."""
    needs_client: bool = False
    """Reads the resolved client address (so the proxy headers are picked)."""
    identifies: Literal["user", "address"] | None = None
    """What a keyed value of this field lets a data-subject request find: a user or an address."""

    @property
    def default(self) -> str:
        return self.actions[0]


def _prefix(top: int, default: int) -> Check:
    def check(bits: Any, setting: str) -> int:
        if isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits <= top:
            raise PolicyError(setting, f"must be a whole number from 0 to {top}, got {bits!r}", f"set it to {default}")
        return bits

    return check


def _names(example: str) -> Check:
    def check(names: Any, setting: str) -> list[str]:
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise PolicyError(setting, "must be a list of parameter names", f'set it to ["{example}"]')
        return names

    return check


def _cookie(name: Any, setting: str) -> str:
    if not isinstance(name, str) or not name:
        raise PolicyError(setting, "must name the session cookie", 'set cookie = "sessionid"')
    return name


def _value_shapes(values: Any, setting: str) -> dict[str, ShapeSpec]:
    """``values = { page = "int", sort = ["date", "name"] }``: the parameters whose values are
    kept, each with the shape a value must have (else it is dropped and counted)."""
    example = 'values = { page = "int", sort = ["date", "name"] }'
    if values == []:
        return {}
    if isinstance(values, list):
        raise PolicyError(
            setting,
            "names parameters whose values are kept without saying what a value may be",
            f"declare each one's shape: {example}",
        )
    if not isinstance(values, Mapping):
        raise PolicyError(setting, f"must be a table of parameter shapes, got {values!r}", f"write {example}")
    return {str(n): parse_shape(spec, f"{setting}.{n}", example) for n, spec in values.items()}


def _values_in_allow(options: dict[str, Any], setting: str) -> None:
    for n in options["values"]:
        if n not in options["allow"]:
            raise PolicyError(f"{setting}.values", f"{n!r} keeps its value but is not in allow", f'add "{n}" to allow')


_COOKIE = (Option("cookie", "session", _cookie),)
_IDENTIFIER_ACTIONS = ("pseudonymise", "hash", "reversible", "keep")


def _spec(name: str, actions: tuple[str, ...], *attributes: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name, actions, attributes, **kw)


FIELDS: Final[Mapping[str, FieldSpec]] = {
    s.name: s
    for s in (
        _spec("timestamp", ("keep",)),  # every record has its timestamp
        _spec("duration", ("keep",), "http.server.request.duration"),
        _spec("method", ("keep",), "http.request.method"),
        _spec("scheme", ("keep",), "url.scheme"),
        _spec("http_version", ("keep",), "network.protocol.version"),
        _spec("path", ("template", "scrub", "keep"), "url.path", "http.route"),
        _spec(
            "query",
            ("allowlist",),
            "url.query",
            options={"allowlist": (Option("allow", [], _names("page")), Option("values", {}, _value_shapes))},
            check_rule=_values_in_allow,
        ),
        _spec("status", ("keep",), "http.response.status_code"),
        _spec("request_bytes", ("keep",), "http.request.body.size", headers=(b"content-length",)),
        _spec("response_bytes", ("keep",), "http.response.body.size"),
        _spec("referrer", ("origin", "keep"), "http.request.header.referer", headers=(b"referer",)),
        _spec(
            "user_agent",
            ("generalise", "keep"),
            "user_agent.name",
            "user_agent.version",
            "user_agent.os.name",
            "privlog.device.class",
            "user_agent.original",
            headers=(b"user-agent",),
        ),
        _spec("language", ("generalise",), "privlog.language", headers=(b"accept-language",)),
        _spec(
            "client_ip",
            ("truncate", "hash", "cryptopan", "keep"),
            "client.address",
            KEYED_ADDRESS,
            options={"truncate": (Option("ipv4_prefix", 24, _prefix(32, 24)), Option("ipv6_prefix", 48, _prefix(128, 48)))},
            needs_client=True,
            identifies="address",
        ),
        _spec("client_port", ("keep",), "client.port"),
        _spec(
            "location",
            ("country", "region", "city"),
            "geo.country.iso_code",
            "geo.continent.code",
            "geo.region.iso_code",
            "geo.locality.name",
            needs_client=True,
        ),
        _spec("user_id", _IDENTIFIER_ACTIONS, "user.id", identifies="user"),
        _spec(
            "session_id",
            _IDENTIFIER_ACTIONS,
            "session.id",
            headers=(b"cookie",),
            options=dict.fromkeys(_IDENTIFIER_ACTIONS, _COOKIE),
        ),
    )
}
