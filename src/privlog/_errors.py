"""The errors privlog raises, one family (as httpx's ``_exceptions.py``)::

    PrivlogError
    ├── PolicyError         the policy is invalid
    ├── ConfigurationError  what the policy relies on is missing or wrong (secret, key store, OTEL_*)
    └── UsageError          privlog was called wrongly (API or command line)

Nothing here is raised on the request path.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PrivlogError(Exception):
    """The base of every error privlog raises on purpose: catch it to catch them all.

    Each names what is wrong (``setting``: a policy key, an environment variable, a file or a
    command-line argument), the ``problem`` and the ``fix``, and never a captured value.
    """

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        self.setting = setting
        self.problem = problem
        self.fix = fix
        super().__init__(f"{setting}: {problem}. Fix: {fix}")


class PolicyError(PrivlogError, ValueError):
    """A policy setting is invalid (the TOML file, the mapping, ``settings.PRIVLOG``).

    Raised once, when a policy is loaded or compiled, never while serving a request.
    """


class ConfigurationError(PrivlogError):
    """The policy is valid but what it relies on is not: the secret or key store it names,
    an ``OTEL_*`` variable, an optional package or a database file. Raised at start-up, or
    by the command that needs it."""


class UsageError(PrivlogError):
    """privlog was called wrongly: a middleware without a policy, an extension before
    ``init_app``, a command without the arguments it needs."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A hint naming the closest valid choice, for typos in policy names."""
    options = sorted(choices)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    listing = ", ".join(options)
    if close:
        return f"did you mean {close[0]!r}? Valid names: {listing}"
    return f"use one of: {listing}"
