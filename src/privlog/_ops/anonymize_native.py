"""``privlog anonymize`` on the compiled path: whole blocks of ``combined`` lines through the
extension, with the GIL released.

The extension parses each line, applies the stream's compiled policy and writes the line back
(``--output same``) or its records (``--output json``), byte for byte as the Python path does.
A line it cannot reproduce exactly (one that does not parse, one with text only the free-text
scrubber handles, one of a day without a key) comes back by position and is made by
the Python path in its place, counted in :attr:`CompiledLines.fallback` (and in the run's
:attr:`Counts.fallback`, which the exit summary reports). Without the extension,
or for a format, output or policy it does not take, :func:`compiled_lines` returns None and
everything stays on the Python path.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from .._core import native
from .._keys.epochs import KeyShredded
from .._transforms.address import _unmapped
from .anonymize import Anonymizer, python_line
from .logformats import MAX_LINE, CombinedFormat

if TYPE_CHECKING:
    from privlog_native import LogAnonymizer

DAY_NS = 86_400 * 1_000_000_000
log = logging.getLogger("privlog")


def _same_ring(a: Any, b: Any) -> bool:
    return bool(a is b or (a._master == b._master and a.algorithm == b.algorithm and a.key_id == b.key_id))


class CompiledLines:
    """An :class:`Anonymizer`'s stream in the extension: ``block(data)`` gives what to write for
    a block of whole lines (each ending in a newline)."""

    def __init__(self, anonymizer: Anonymizer) -> None:
        fmt = anonymizer.format
        if not isinstance(fmt, CombinedFormat) or anonymizer.output not in ("same", "json"):
            raise ValueError("the compiled path takes nginx/Apache combined lines, written as same or json")
        pipeline = anonymizer.pipeline
        policy = pipeline.policy
        trusted = [(n.network_address.packed, n.netmask.packed) for n in map(_unmapped, policy.trusted_proxies)]
        self.anonymizer = anonymizer
        self.native = native.NativePipeline(pipeline, otlp=False, jsonl=True)
        self._generation = getattr(pipeline.keys, "generation", 0)
        from privlog_native import LogAnonymizer  # installed: NativePipeline checked

        self.lines: LogAnonymizer = LogAnonymizer(
            self.native.engine,
            0,
            fmt.name == "apache-combined",
            anonymizer.output == "json",
            pipeline.keys is None,
            trusted,
            policy.proxy_header == "forwarded",
        )
        #: Lines the extension handed back to the Python path.
        self.fallback = 0
        #: The extension failed (a Rust panic, say): every later line goes the Python way.
        self.failed = False

    def block(self, data: bytes, start: int = 0, end: int | None = None) -> bytes:
        """The output for ``data[start:end]``, whole lines: the extension's, with Python's lines
        in place. A line of a day whose key the extension lacks stops its run: Python hands that key
        over, and the run goes on from that line. If the extension fails, the rest of the block
        and every later block are made by the Python path."""
        anonymizer = self.anonymizer
        counts = anonymizer.counts
        pieces: list[bytes] = []
        end = len(data) if end is None else end
        position = start
        while not self.failed:
            try:
                if position == start:
                    self._keys_changed()
                out, fallback, day, after, (parsed, records, rejected) = self.lines.run(data, position, end)
            except native.NATIVE_ERRORS as exc:
                self._failed(exc)
                break
            counts.lines += parsed
            counts.parsed += parsed
            counts.records += records
            anonymizer.pipeline.rejected.count += rejected
            done = 0
            for at, line_start, line_end in fallback:
                pieces.append(out[done:at])
                raw = data[line_start:line_end]
                pieces.append(python_line(anonymizer, raw[:MAX_LINE], len(raw) > MAX_LINE))
                done = at
            self.fallback += len(fallback)
            counts.fallback += len(fallback)
            pieces.append(out[done:] if done else out)
            position = after
            if day is None:
                return pieces[0] if len(pieces) == 1 else b"".join(pieces)
            try:
                self._learn(day)
            except native.NATIVE_ERRORS as exc:
                self._failed(exc)
        lines = data[position:end].split(b"\n")
        if not lines[-1]:
            lines.pop()  # the newline that ends the block
        self.fallback += len(lines)
        counts.fallback += len(lines)
        pieces += (python_line(anonymizer, raw[:MAX_LINE], len(raw) > MAX_LINE) for raw in lines)
        return b"".join(pieces)

    def _failed(self, exc: BaseException) -> None:
        """The extension raised (a panic too, as PyO3's BaseException): never lose the rest of
        the log to it, and say so by the exception's type only."""
        log.warning("privlog anonymize: the compiled path failed (%s); using Python", type(exc).__name__)
        self.failed = True

    def _learn(self, day: int) -> None:
        """Tell the extension the key ring of a UTC day, if one ring covers all of it."""
        keys = self.anonymizer.pipeline.keys
        handle = -1
        if keys is None:  # pragma: no cover - a keyless policy never asks
            return
        try:
            first = keys.ring_for(day * DAY_NS)
            last = keys.ring_for(day * DAY_NS + DAY_NS - 1)
        except KeyShredded:
            pass  # no key: the Python path skips and counts each line
        else:
            if _same_ring(first, last):
                if len(self.native._epochs) >= native._MAX_EPOCHS:
                    self._forget()
                handle = self.native._handle(first)
        self.lines.set_day(day, handle)

    def _forget(self) -> None:
        self.native.forget_keys()
        self.lines.clear_days()

    def _keys_changed(self) -> None:
        """Wipe the extension's keys once the key store shreds or rotates."""
        generation = getattr(self.anonymizer.pipeline.keys, "generation", 0)
        if generation != self._generation:
            self._generation = generation
            self._forget()


def compiled_lines(anonymizer: Anonymizer) -> CompiledLines | None:
    """The compiled path for ``anonymizer``, if the extension is installed (and not turned off
    with ``PRIVLOG_NATIVE=0``) and takes its format, output and policy; else None."""
    if not native.available() or os.environ.get("PRIVLOG_NATIVE", "").strip() == "0":
        return None
    try:
        return CompiledLines(anonymizer)
    except (ValueError, TypeError):
        return None
