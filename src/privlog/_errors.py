"""Errors privlog raises at start-up. Nothing here is raised on the request path."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PolicyError(ValueError):
    """A policy setting is invalid. The message names the setting and says how to fix it.

    Raised once, when a policy is loaded or compiled, never while serving a request.
    """

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        self.setting = setting
        self.problem = problem
        self.fix = fix
        super().__init__(f"{setting}: {problem}. Fix: {fix}")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A hint naming the closest valid choice, for typos in policy names."""
    options = sorted(choices)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    listing = ", ".join(options)
    if close:
        return f"did you mean {close[0]!r}? Valid names: {listing}"
    return f"use one of: {listing}"
