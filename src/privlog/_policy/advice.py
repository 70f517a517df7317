"""Warnings about choices that keep raw personal data: valid, but worth a second look."""

from __future__ import annotations

from .catalogue import FIELDS
from .model import Policy

#: Above these prefixes a truncated address still points to one connection (or a handful).
ANONYMOUS_PREFIX = {"ipv4_prefix": 24, "ipv6_prefix": 48}


def raw_data_warnings(policy: Policy) -> list[str]:
    """One line per field or header a policy keeps raw although privlog could protect it.

    A field is flagged when it is kept as it is and the registry offers another action for it
    (the address, browser string, path, referrer, user and session ids); every header kept
    with the pattern "uuid" or "int" (a list of values says nothing of a person) is flagged;
    so is an address truncation that leaves more than /24 or /48.
    """
    out = []
    for s in policy.streams:
        for name, rule in s.fields.items():
            spec = FIELDS[name]
            setting = f"streams.{s.name}.fields.{name}"
            if rule.action == "keep" and len(spec.actions) > 1:
                out.append(
                    f'{setting} = "keep" stores the raw value, which can identify a person. '
                    f'Fix: use "{spec.default}" unless your notice says the raw value is kept'
                )
            elif rule.action == "truncate":
                for option, limit in ANONYMOUS_PREFIX.items():
                    if rule.options[option] > limit:
                        out.append(
                            f"{setting}.{option} = {rule.options[option]} keeps enough of the address to "
                            f"identify a connection. Fix: {limit} or less"
                        )
        for header, action in s.headers.items():
            if action == "keep" and isinstance(s.header_patterns.get(header), str):  # "uuid", "int"
                out.append(
                    f'streams.{s.name}.headers.{header} = "keep" stores the raw header value, '
                    'which can carry an identifier. Fix: use "pseudonymise" (or "pseudonymize") unless the value says nothing about a person'
                )
    return out
