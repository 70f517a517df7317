"""What leaves the pipeline: one transformed record per stream, and its timestamps' text form.

At the bottom of the package: sinks and encoders depend on this module only, never on the
compiler that makes the records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol

Attributes = dict[str, Any]
"""One exported record's attributes, flat, with OpenTelemetry semantic-convention names."""

_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))  # a lookup beats a format spec per call


class Output(NamedTuple):
    """One transformed record bound for one stream (a tuple: made for every record)."""

    stream: str
    retention_days: int
    timestamp_ns: int
    attributes: Attributes
    #: The stream's retention tags, which are also the last entries of ``attributes``: one dict
    #: per stream and key epoch, shared by its records, so an exporter can encode them once.
    tags: Mapping[str, Any] | None = None


class IsoFormatter:
    """RFC 3339 UTC timestamps with milliseconds; the seconds part is formatted once per second.

    Keep one per sequence of nearby timestamps (a stream's expiry times, say): records come in
    time order, so nearly every call reuses the last second.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[int, str] = (-1, "")  # swapped whole, so threads never see a torn pair

    def __call__(self, ns: int) -> str:
        second, rest = divmod(ns, 1_000_000_000)
        cached_second, text = self._last
        if cached_second != second:
            text = datetime.fromtimestamp(second, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            self._last = (second, text)
        return text + _MILLIS[rest // 1_000_000]


iso_utc = IsoFormatter()
"""A shared formatter, for timestamps of the moment (record times)."""


def client_address(attributes: Mapping[str, Any]) -> Any:
    """The record's client address as written: ``client.address`` (truncated or kept) or
    ``privlog.client.address`` (hashed or Crypto-PAn); None when the policy records neither."""
    value = attributes.get("client.address")
    return value if value is not None else attributes.get("privlog.client.address")


def header_text(attributes: Mapping[str, Any], header: str) -> Any:
    """The one value of ``http.request.header.<header>`` (a list of strings, as the semantic
    conventions have it), or None."""
    value = attributes.get(f"http.request.header.{header}")
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


HEADER_PREFIX = "http.request.header."
"""Request header attributes: a string on the record (and in the JSONL store), a list of one
string when exported over OpenTelemetry, as the semantic conventions have it."""


def as_exported(key: str, value: Any) -> Any:
    """``value`` as the OpenTelemetry sinks send it: a header's string becomes ``[string]``."""
    return [value] if type(value) is str and key.startswith(HEADER_PREFIX) else value


def otel_attributes(attributes: Attributes) -> Attributes:
    """The attributes as the OpenTelemetry sinks send them (a copy only when a header is there)."""
    if not any(key.startswith(HEADER_PREFIX) for key in attributes):
        return attributes
    return {key: as_exported(key, value) for key, value in attributes.items()}

class EncodedBatch(Protocol):
    """A batch the compiled path (privlog-native) made: its records already encoded, byte for
    byte as the sinks would encode the Python pipeline's outputs."""

    @property
    def records(self) -> int:
        """How many records the batch holds."""

    def otlp(self) -> bytes:
        """The ExportLogsServiceRequest of every record, for the OTLP sink whose encoder made it."""

    def jsonl(self) -> list[tuple[str, int, bytes, int]]:
        """(stream, day since 1970, lines, how many) chunks, as the JSONL store files them."""

    def subjects(self) -> list[tuple[str, str, int]]:
        """(stream, last-visit subject, day since 1970) of each record with a subject, in order."""
