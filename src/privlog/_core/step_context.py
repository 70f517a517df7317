"""What the steps of every stream share: the ``Step`` type, and the ``StepContext`` built once per
pipeline (client resolution, the key source, the location database, the rejected-value count).

Split from ``steps.py``, which holds the step factories of each field and re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._keys.ring import KeyRing
from .._keys.source import open_keys
from .._policy.model import Policy
from .._transforms.address import make_client_resolver
from .capture import Capture, Facts
from .record import Attributes

if TYPE_CHECKING:
    from .._transforms.useragent import UserAgentGeneraliser

Step = Callable[[Facts, Capture, Attributes], None]
"""Writes the attributes of one field, already transformed, into the record."""

MAX_TEXT = 1024

Keyed = Callable[[KeyRing, bytes], str]
"""A keyed transform: the ring of the record's epoch and the value."""


class Rejected:
    """How many values were left out of records for not fitting their declared shape.

    Counted by the steps, which run only in the worker thread: a plain attribute suffices.
    """

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class StepContext:
    """Things shared by the steps of all streams, built once: opening the key source and the
    location database here makes a bad one a start-up error."""

    def __init__(self, policy: Policy, warm: bool = True) -> None:
        self.resolve_client = make_client_resolver(policy.trusted_proxies, policy.proxy_header)
        self.keys = open_keys(policy)
        self.geo_database = policy.geo_database
        #: Build the user-agent parser with the steps (False: at the first user agent).
        self.warm = warm
        self._ua: UserAgentGeneraliser | None = None
        self.rejected = Rejected()

    @property
    def user_agent(self) -> UserAgentGeneraliser:
        if self._ua is None:
            from .._transforms.useragent import UserAgentGeneraliser  # ua-parser: only if used

            self._ua = UserAgentGeneraliser()
        return self._ua

    @staticmethod
    def keyed(action: str, domain: str) -> Keyed:
        """The keyed transform of ``action``, applied with the ring of each record's epoch."""

        last: list[Any] = [None, None]  # the last ring and its function: records come in epoch order

        def keyed_value(ring: KeyRing, value: bytes) -> str:
            if last[0] is not ring:
                last[1] = ring.keyed(action, domain)
                last[0] = ring
            fn: Callable[[bytes], str] = last[1]
            return fn(value)

        return keyed_value
