"""A sink that keeps what it receives, for assertions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from privlog import Output, PrivacyLog


class ListSink:
    """A sink that keeps what it receives, for assertions."""

    def __init__(self) -> None:
        self.records: list[Output] = []
        self.flushed = 0
        self.closed = False

    def write(self, records: Sequence[Output]) -> None:
        self.records.extend(records)

    def flush(self) -> None:
        self.flushed += 1

    def close(self) -> None:
        self.closed = True

    def stream(self, name: str) -> list[dict[str, Any]]:
        return [r.attributes for r in self.records if r.stream == name]


def security(sink: ListSink, privlog: PrivacyLog) -> list[dict[str, Any]]:
    """The security stream's records so far (flushes the worker first)."""
    privlog.flush()
    return sink.stream("security")
