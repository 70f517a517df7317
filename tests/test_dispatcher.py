"""The dispatcher never blocks or raises on the request path, and counts what it loses."""

from __future__ import annotations

import time
from collections.abc import Sequence

from privlog import Output, Policy, compile_policy
from privlog._capture import Capture
from privlog._dispatcher import Dispatcher

from .conftest import ENV, FULL, ListSink


def auth_capture(user: str = "u1") -> Capture:
    return Capture("auth", None, None, time.time_ns(), 0, None, None, None, user, {"event": "logout"})


def make(sinks: Sequence[object], **kw: int | float) -> Dispatcher:
    return Dispatcher(compile_policy(Policy.from_dict(FULL, environ=ENV)), sinks, **kw)  # type: ignore[arg-type]


class BrokenSink(ListSink):
    def write(self, records: Sequence[Output]) -> None:
        raise ConnectionError("collector down")


class TestDispatcher:
    def test_full_queue_drops_and_counts_without_blocking(self, sink: ListSink) -> None:
        d = make([sink], queue_size=3, flush_interval=60)
        d._thread = object()  # type: ignore[assignment]  # keep the worker from draining
        for _ in range(10):
            d.submit(auth_capture())
        stats = d.stats()
        assert (stats.captured, stats.queued, stats.dropped) == (10, 3, 7)
        d._thread = None
        d.drain()
        assert d.stats().exported == 3

    def test_worker_exports_in_the_background(self, sink: ListSink) -> None:
        d = make([sink], flush_interval=0.01)
        d.submit(auth_capture())
        deadline = time.monotonic() + 5
        while not sink.records and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.records[0].attributes["event.name"] == "auth.logout"
        d.close()

    def test_a_failing_sink_is_counted_and_others_still_get_records(self, sink: ListSink) -> None:
        d = make([BrokenSink(), sink], flush_interval=60)
        d.submit(auth_capture())
        d.flush()
        stats = d.stats()
        assert stats.failed == 1
        assert stats.exported == 1
        assert len(sink.records) == 1

    def test_a_capture_that_cannot_be_transformed_is_counted(self, sink: ListSink) -> None:
        d = make([sink], flush_interval=60)

        def bad_reader(source: object, wanted: frozenset[bytes]) -> object:
            raise KeyError("boom")

        d.submit(Capture("http", bad_reader, {}, time.time_ns(), 0, 200, 0, 0, None, None))  # type: ignore[arg-type]
        d.submit(auth_capture())
        d.flush()
        assert d.stats().failed == 1
        assert len(sink.records) == 1

    def test_close_flushes_and_later_submits_are_dropped(self, sink: ListSink) -> None:
        d = make([sink], flush_interval=60)
        d.submit(auth_capture())
        d.close()
        assert len(sink.records) == 1
        assert sink.closed
        d.submit(auth_capture())
        assert d.stats().dropped == 1
