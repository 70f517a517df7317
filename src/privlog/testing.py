"""Helpers for your own tests: assert what your policy logs, without mocks.

As ``structlog.testing.capture_logs`` captures log entries, :func:`capture_records` captures
the records privlog exports while a block runs, after its transforms, exactly as a sink gets
them::

    from privlog.testing import capture_records

    def test_the_access_log_keeps_no_user_id(client, app_privlog):
        with capture_records(app_privlog) as records:
            client.get("/users/4711")
        (record,) = records
        assert record["http.route"] == "/users/{user_id}"
        assert "user.id" not in record

:class:`RecordCapture` is the sink behind it, for a PrivacyLog built for a test
(``PrivacyLog(policy, sinks=[RecordCapture()])``). See docs/testing.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ._core.record import Output
from ._privacylog import PrivacyLog

__all__ = ["CapturedRecords", "RecordCapture", "capture_records"]


class CapturedRecords(list[dict[str, Any]]):
    """The captured records' attributes, in export order; each also knows its stream."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[Output] = []

    def stream(self, name: str) -> list[dict[str, Any]]:
        """The records of one stream."""
        return [dict(o.attributes) for o in self.outputs if o.stream == name]


class RecordCapture:
    """A sink that keeps every record it is given (attributes as plain dicts)."""

    def __init__(self) -> None:
        self.records = CapturedRecords()

    def write(self, records: Sequence[Output]) -> None:
        for rec in records:
            self.records.outputs.append(rec)
            self.records.append(dict(rec.attributes))

    def flush(self) -> None:
        """Nothing buffered."""

    def close(self) -> None:
        """Nothing to release."""


def _privacylog_of(target: Any) -> PrivacyLog:
    if isinstance(target, PrivacyLog):
        return target
    found = getattr(target, "privlog", None)  # a middleware or the Flask extension
    if isinstance(found, PrivacyLog):
        return found
    raise TypeError(
        "capture_records() needs a PrivacyLog, or a middleware or extension holding one (.privlog); "
        f"got {type(target).__name__}"
    )


@contextmanager
def capture_records(target: Any) -> Iterator[CapturedRecords]:
    """Capture the records ``target`` (a PrivacyLog, or a middleware or extension holding one)
    exports while the block runs, beside its own sinks; they are all there when it ends.

    Records queued before the block are exported first and not captured.
    """
    privlog = _privacylog_of(target)
    dispatcher = privlog.dispatcher
    privlog.flush()
    capture = RecordCapture()
    dispatcher.sinks = (*dispatcher.sinks, capture)
    try:
        yield capture.records
    finally:
        privlog.flush()
        dispatcher.sinks = tuple(s for s in dispatcher.sinks if s is not capture)
