from collections.abc import Mapping, Sequence
from typing import Any

__version__: str

class PanicException(BaseException):
    """A panic in the extension, raised in Python (a BaseException, as PyO3 makes it)."""

class Engine:
    """A compiled policy plus the OTLP resource and scope bytes of the sink it encodes for."""

    def __init__(self, policy: Mapping[str, Any], resource: bytes, scope: bytes) -> None: ...
    @property
    def headers(self) -> list[bytes]:
        """The request headers the compiled steps read."""
    def add_epoch(self, handle: int, master: bytes, algorithm: str, key_id: str) -> None:
        """Derive and hold one key epoch's keys under ``handle``."""
    def forget_epoch(self, handle: int) -> None:
        """Drop (and wipe) one key epoch's keys."""
    def run(
        self, facts: list[tuple[Any, ...]], observed_ns: int, otlp: bool = True, jsonl: bool = True
    ) -> Batch:
        """Transform and encode a batch of facts tuples with the GIL released."""

class AsgiReader:
    """Reads the ASGI middleware's captures (scope dicts) for an engine, resolving clients."""

    def __init__(
        self,
        engine: Engine,
        reader_type: type,
        reader_function: Any,
        wanted: list[bytes],
        resolver: tuple[list[tuple[int, int]], list[tuple[int, int]], bool] | None,
    ) -> None: ...
    def run(
        self,
        engine: Engine,
        captures: list[Any],
        handles: list[int | None] | None,
        facts_of: Any,
        observed_ns: int,
        otlp: bool = True,
        jsonl: bool = True,
    ) -> tuple[Batch, list[int], int]:
        """Read and transform a batch of captures; those it cannot read go to ``facts_of``.
        Returns the batch, the captures that failed, and how many were read here."""

class Batch:
    """The records of one batch; the captures in ``fallback`` are for Python to fill in."""

    fallback: list[int]
    #: Nanoseconds ``Engine.run`` worked with the GIL released.
    released_ns: int
    #: Values the extension left out for not fitting their declared shape.
    rejected: int
    @property
    def records(self) -> int: ...
    def fill(self, index: int, records: Sequence[tuple[str, int, bytes, bytes | None, str | None]]) -> None: ...
    def streams(self) -> list[str]: ...
    def otlp(self) -> bytes: ...
    def jsonl(self) -> list[tuple[str, int, bytes, int]]: ...
    def subjects(self) -> list[tuple[str, str, int]]: ...

class LogAnonymizer:
    """An engine's stream applied to ``combined`` log lines, as ``privlog anonymize`` does."""

    def __init__(
        self,
        engine: Engine,
        stream: int,
        apache: bool,
        json: bool,
        keyless: bool,
        trusted: list[tuple[bytes, bytes]] = ...,
        forwarded: bool = False,
    ) -> None: ...
    def set_day(self, day: int, handle: int) -> None:
        """The engine's epoch handle for a UTC day (a negative handle: Python decides that day)."""
    def clear_days(self) -> None: ...
    def run(
        self, block: bytes, start: int = 0, end: int | None = None
    ) -> tuple[bytes, list[tuple[int, int, int]], int | None, int, tuple[int, int, int]]:
        """Whole lines of ``block[:end]`` from ``start`` on; the output, lines for Python as (offset, start, end),
        the day whose key is wanted if a line of it stopped the run, where the run stopped,
        and (lines, records, rejected values) of the lines done here."""
