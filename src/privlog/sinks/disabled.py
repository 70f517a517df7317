"""The stand-in for an OpenTelemetry sink that ``OTEL_SDK_DISABLED=true`` switched off.

The records the policy sends to OpenTelemetry are not exported, and ``PrivacyLog.stats()``
should say so rather than count them as exported: this sink, under the name of the sink it
replaces (``otlp`` or ``otel``), takes every record, sends nothing and counts it as lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._core.record import EncodedBatch, Output


class DisabledExport:
    """Counts every record handed to it as lost: export was switched off by the environment."""

    encoding = "none"
    """Takes the compiled path's batches too (it needs no encoding of them)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lost = 0

    def write(self, records: Sequence[Output]) -> None:
        self._lost += len(records)

    def write_encoded(self, batch: EncodedBatch) -> None:
        self._lost += batch.records

    def counts(self) -> tuple[int, int]:
        """(0 delivered, every record handed to it lost)."""
        return 0, self._lost

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing is held open."""
