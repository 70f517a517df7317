"""The hand-off between request threads and the background worker.

``submit`` is the only call on the request path: a length check and a ``deque.append``.
It never blocks and never raises; a full queue drops the capture and counts it. One daemon
thread transforms and exports in batches, and the queue is flushed at shutdown and at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from . import shutdown
from .capture import Capture
from .native import NATIVE_ERRORS, native_for
from .pipeline import Pipeline
from .record import Output

log = logging.getLogger("privlog")

HOUSEKEEPING_INTERVAL = 60.0  # seconds between checks for a new day (retention, key shredding)


class Sink(Protocol):
    """Where transformed records go. Called only from the worker, one batch at a time."""

    def write(self, records: Sequence[Output]) -> None:
        """Export a batch; raise on failure (the dispatcher counts it)."""

    def flush(self) -> None:
        """Push out anything buffered."""

    def close(self) -> None:
        """Release files and connections."""


@runtime_checkable
class Housekeeping(Protocol):
    """A sink (or key source) with daily chores: deleting expired files, shredding keys."""

    def housekeeping(self) -> None:
        """Do what is due; cheap when nothing is. Called from the worker about once a minute."""


@runtime_checkable
class Counted(Protocol):
    """A sink that counts what it delivered and lost itself, because it can lose records
    without raising (the OTLP sink's breaker) or lose part of a batch (a full disk)."""

    def counts(self) -> tuple[int, int]:
        """(records delivered, records lost) since the sink was made."""


@dataclass(frozen=True)
class SinkStats:
    """What one sink did with the records handed to it: ``delivered`` (written to disk,
    acknowledged by the collector, handed to the SDK) and ``lost`` (failed, dropped)."""

    delivered: int
    lost: int


@dataclass(frozen=True)
class Stats:
    """Counters of a dispatcher since it started.

    ``captured``: requests and events handed to privlog; ``exported``: records no sink lost;
    ``dropped``: captures lost because the queue was full; ``failed``: captures lost to an
    error in a transform, plus records a sink lost (in the sink that lost most of a batch);
    ``queued``: waiting right now; ``unkeyed``: captures that keyed streams skipped because
    no key covers their time (see docs/keys.md, clock skew); ``rejected``: query values and
    kept headers left out of records for not fitting their declared shape; ``sinks``: per
    sink, by name.
    """

    captured: int
    exported: int
    dropped: int
    failed: int
    queued: int
    unkeyed: int = 0
    rejected: int = 0
    sinks: Mapping[str, SinkStats] = field(default_factory=dict)


def sink_names(sinks: Sequence[object]) -> tuple[str, ...]:
    """A stable name per sink: its ``name`` attribute or class name, numbered when repeated."""
    names: list[str] = []
    for sink in sinks:
        base = str(getattr(sink, "name", "") or type(sink).__name__)
        name, n = base, 2
        while name in names:
            name, n = f"{base}.{n}", n + 1
        names.append(name)
    return tuple(names)


class Dispatcher:
    """Bounded queue plus one background worker running the pipeline and the sinks."""

    def __init__(
        self,
        pipeline: Pipeline,
        sinks: Sequence[Sink],
        queue_size: int = 10_000,
        batch_size: int = 256,
        flush_interval: float = 0.5,
        *,
        start_worker: bool = True,
        native: bool | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.sinks = tuple(sinks)
        #: The compiled batch path, when installed and able to serve this policy and these sinks
        #: (``native=False`` or ``PRIVLOG_NATIVE=0`` turns it off); else the Python pipeline.
        self.native = native_for(pipeline, self.sinks) if native is not False else None
        self._native_sinks = self.sinks
        self._use_native = True
        self._sink_delivered: dict[int, int] = {}  # by id(sink), for sinks that do not count
        self._sink_lost: dict[int, int] = {}
        chores: list[Housekeeping] = []
        for part in (pipeline.keys, *self.sinks):
            if isinstance(part, Housekeeping):
                chores.append(part)
        self._chores = tuple(chores)
        self._queue: deque[Capture] = deque()
        self._max = queue_size
        self._batch = batch_size
        self._interval = flush_interval
        self._wake = threading.Event()
        self._work_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_worker = start_worker  # False: only drain() and flush() export (tests, tools)
        self._closed = False
        self.stopping = False  # set on SIGTERM: records are exported as soon as they come in
        self._processed = 0
        self._exported = 0
        self._dropped = 0
        self._failed = 0
        ref = weakref.ref(self)
        atexit.register(_close_at_exit, ref)
        shutdown.watch(self)  # atexit does not run when a server re-raises SIGTERM (uvicorn)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: _reset_after_fork(ref))

    # -- request path -------------------------------------------------------------------
    def submit(self, capture: Capture) -> None:
        """Queue a capture for the worker. Never blocks, never raises."""
        queue = self._queue
        if len(queue) >= self._max or self._closed:
            with self._count_lock:
                self._dropped += 1
            self._wake.set()  # a full queue needs the worker now, whatever woke it or did not
            return
        queue.append(capture)
        if self._thread is None:
            self._start()
        elif (len(queue) >= self._batch and not len(queue) % self._batch) or self.stopping:
            # Once per batch size reached, not per request above it. Every multiple, not only
            # the first: two request threads can both append before either compares, and then
            # neither sees the batch size itself. (The >= first: below a batch, one comparison.)
            self._wake.set()

    # -- worker ---------------------------------------------------------------------------
    def _start(self) -> None:
        if not self._start_worker:
            return
        with self._count_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="privlog-worker", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        next_housekeeping = 0.0
        next_flush = time.monotonic() + self._interval
        while not self._closed:
            self._wake.wait(max(0.0, next_flush - time.monotonic()))
            self._wake.clear()
            now = time.monotonic()
            if now >= next_flush or self.stopping:
                self.drain()
                next_flush = now + self._interval
            else:
                # Woken by a full batch: take only full batches. Chasing the requests that
                # trickle in meanwhile would make many small batches, each handing the GIL back
                # and forth with the request thread (context switches the app pays for).
                self._drain_full()
            now = time.monotonic()
            if now >= next_housekeeping:
                next_housekeeping = now + HOUSEKEEPING_INTERVAL
                self.housekeeping()

    def housekeeping(self) -> None:
        """Retention chores that must happen even without traffic: expired files deleted,
        expired keys shredded. Each part acts at most once per day; errors are logged."""
        for part in self._chores:
            try:
                part.housekeeping()
            except Exception as exc:
                log.warning(
                    "privlog: housekeeping of %s failed (%s)", type(part).__name__, type(exc).__name__
                )

    def drain(self, timeout: float | None = None) -> bool:
        """Transform and export everything queued now. Safe to call from any thread.

        With ``timeout``, gives up (returning False) if another drain holds the worker that long.
        """
        if not self._work_lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        try:
            while self._queue:
                self._process_batch()
        finally:
            self._work_lock.release()
        return True

    def _drain_full(self) -> None:
        with self._work_lock:
            while len(self._queue) >= self._batch:
                self._process_batch()

    def _process_batch(self) -> None:
        queue = self._queue
        captures: list[Capture] = []
        while queue and len(captures) < self._batch:
            captures.append(queue.popleft())
        if self.native is not None and self.sinks is not self._native_sinks:
            # The sinks changed (privlog.testing.capture_records adds one): can all still take bytes?
            self._native_sinks = self.sinks
            self._use_native = all(hasattr(sink, "write_encoded") for sink in self.sinks)
        if self.native is not None and self._use_native:
            try:
                result = self.native.run(captures, time.time_ns())
            except NATIVE_ERRORS as exc:  # never break the host: the Python pipeline takes over
                log.warning("privlog: the compiled batch path failed (%s); using Python", type(exc).__name__)
                self.native = None
            else:
                batch = result.batch
                for _ in range(result.failed):
                    log.warning("privlog: a record could not be transformed and was dropped", exc_info=False)
                self._count(len(captures), result.failed, batch.records, lambda sink: sink.write_encoded(batch))
                return
        process = self.pipeline.process
        outputs: list[Output] = []
        failed = 0
        for capture in captures:
            try:
                outputs += process(capture)
            except Exception:
                failed += 1
                # The capture holds personal data: log the error type only, never the value.
                log.warning("privlog: a record could not be transformed and was dropped", exc_info=False)
        self._count(len(captures), failed, len(outputs), lambda sink: sink.write(outputs))

    def _count(self, n: int, failed: int, records: int, write: Callable[[Any], None]) -> None:
        """Hand ``records`` records to the sinks (``write`` gives them to one) and count."""
        exported = 0
        if records:
            lost = self._write(records, write)
            exported = records - lost
            failed += lost
        with self._count_lock:
            self._processed += n
            self._exported += exported
            self._failed += failed

    def _write(self, n: int, write: Callable[[Any], None]) -> int:
        """Hand a batch of ``n`` records to every sink; the most records any one sink lost of it."""
        worst = 0
        for sink in self.sinks:
            counts = sink.counts if isinstance(sink, Counted) else None
            before = counts()[1] if counts is not None else 0
            key = id(sink)
            try:
                write(sink)
            except NATIVE_ERRORS as exc:  # a native batch's bytes are made in the extension
                log.warning(
                    "privlog: sink %s failed (%s); %d records lost there", type(sink).__name__, type(exc).__name__, n
                )
                # A counting sink that raised may have counted part of it: add the rest.
                counted = min(n, counts()[1] - before) if counts is not None else 0
                self._sink_lost[key] = self._sink_lost.get(key, 0) + n - counted
                lost = n
            else:
                if counts is not None:
                    lost = min(n, counts()[1] - before)
                else:
                    lost = 0
                    self._sink_delivered[key] = self._sink_delivered.get(key, 0) + n
            worst = max(worst, lost)
        return worst

    # -- control --------------------------------------------------------------------------
    def stop_soon(self) -> None:
        """The process is stopping: export each record as soon as it is submitted."""
        self.stopping = True
        self._wake.set()

    def flush(self, timeout: float | None = None) -> None:
        """Export everything queued and flush the sinks. Blocks the caller, not requests."""
        self.drain(timeout)
        for sink in self.sinks:
            try:
                sink.flush()
            except Exception as exc:
                log.warning("privlog: flushing %s failed (%s)", type(sink).__name__, type(exc).__name__)

    def close(self) -> None:
        """Flush, stop the worker and close the sinks. Later captures are dropped and counted."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.drain()
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                log.warning("privlog: closing %s failed (%s)", type(sink).__name__, type(exc).__name__)

    def stats(self) -> Stats:
        """A snapshot of the counters, with each sink's own."""
        per_sink: dict[str, SinkStats] = {}
        for name, sink in zip(sink_names(self.sinks), self.sinks, strict=False):
            key = id(sink)
            delivered, lost = sink.counts() if isinstance(sink, Counted) else (self._sink_delivered.get(key, 0), 0)
            per_sink[name] = SinkStats(delivered, lost + self._sink_lost.get(key, 0))
        with self._count_lock:
            queued = len(self._queue)
            return Stats(
                captured=self._processed + queued + self._dropped,
                exported=self._exported,
                dropped=self._dropped,
                failed=self._failed,
                queued=queued,
                unkeyed=self.pipeline.unkeyed,
                rejected=self.pipeline.rejected.count,
                sinks=per_sink,
            )

    def _after_fork(self) -> None:
        # The worker thread does not survive fork(); the parent's queue and counts are the parent's.
        self._processed = self._exported = self._dropped = self._failed = 0
        self._sink_delivered = {}
        self._sink_lost = {}
        self.pipeline.rejected.count = 0
        self._queue = deque()
        self._thread = None
        self._wake = threading.Event()
        self._work_lock = threading.Lock()
        self._count_lock = threading.Lock()


def _close_at_exit(ref: weakref.ref[Dispatcher]) -> None:
    dispatcher = ref()
    if dispatcher is not None:
        dispatcher.close()


def _reset_after_fork(ref: weakref.ref[Dispatcher]) -> None:
    dispatcher = ref()
    if dispatcher is not None:
        dispatcher._after_fork()
