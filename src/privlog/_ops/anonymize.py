"""``privlog anonymize``: a web server's access log through the policy, line by line.

A parsed line becomes the same :class:`Facts` and :class:`Capture` the middleware builds for a
request, and goes through the same compiled :class:`Pipeline`, so its record has the same
attributes, values and retention tags as the middleware's. ``--output same`` writes the line
back in its own format from that record; ``--output json`` writes the record. A line that
does not parse is never passed on raw: it is scrubbed as free text (``same``) or dropped
(``json``), and counted.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import signal
import stat
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._core.capture import Capture, Facts
from .._core.pipeline import Pipeline
from .._core.record import Output
from .._core.steps import address_action
from .._errors import UsageError, did_you_mean
from .._keys.epochs import KeyShredded
from .._policy.model import Policy
from .._policy.types import Stream
from .._transforms.freetext import AddressAction, scrub_free_text
from ..sinks.jsonl import record_line
from .lineinput import READ_SIZE, LineInput, write_all
from .logformats import MAX_LINE, CaddyFormat, CombinedFormat, LogLine, RegexFormat

if TYPE_CHECKING:
    from .._core.dispatcher import Sink

log = logging.getLogger("privlog")

OUTPUTS = ("same", "json", "none")
_FILE_READ_SIZE = 1 << 20  # a regular file, on the compiled path: fewer, larger blocks
LogFormat = CombinedFormat | CaddyFormat | RegexFormat


@dataclasses.dataclass
class Counts:
    """What a run did, reported on stderr at exit (numbers only, never a line's content)."""

    lines: int = 0
    parsed: int = 0
    unparsed: int = 0
    too_long: int = 0
    cut_at_stop: int = 0
    cut_at_end: int = 0
    no_key: int = 0
    records: int = 0
    export_failures: int = 0
    # Which path did the lines, left out of ``==``: both paths must count the same lines alike.
    #: The compiled path (the extension) ran; False: every line went the Python way.
    compiled: bool = dataclasses.field(default=False, compare=False)
    #: Lines the compiled path handed back to the Python path (see :mod:`.anonymize_native`).
    fallback: int = dataclasses.field(default=0, compare=False)

    def summary(self) -> str:
        text = (
            f"{self.lines} lines: {self.parsed} anonymised, {self.unparsed} did not parse "
            f"(scrubbed as free text), {self.too_long} over {MAX_LINE} bytes"
        )
        if self.cut_at_stop:
            text += f", {self.cut_at_stop} cut short by a stop signal"
        if self.cut_at_end:
            text += ", the last line, without its newline, cut at its last space"
        if self.no_key:
            text += f", {self.no_key} older than the oldest key (skipped)"
        if self.export_failures:
            text += f", {self.export_failures} export batches failed"
        if self.compiled:  # which path ran: a slow run with many fallbacks explains itself
            return text + f"; compiled path, {self.fallback} through the Python path"
        return text + "; Python path"


def select_streams(policy: Policy, name: str | None, output: str) -> tuple[Stream, ...]:
    """The streams whose records a log line makes: ``--stream NAME``, or the policy's HTTP streams.

    Consent-gated streams are left out: a server log does not say who sent ``Sec-GPC``/``DNT``.
    Writing lines back (``--output same``) needs exactly one stream.
    """
    names = [s.name for s in policy.streams]
    if name is not None:
        found = next((s for s in policy.streams if s.name == name), None)
        if found is None:
            raise UsageError("--stream", f"the policy has no stream {name!r}", did_you_mean(name, names))
        if "http" not in found.events:
            raise UsageError(
                "--stream", f"stream {name!r} does not take http requests", "choose another stream"
            )
        if found.consent_gated:
            raise UsageError(
                "--stream",
                f"stream {name!r} is consent-gated, and a server log does not say who opted out",
                "choose a stream that is not consent-gated",
            )
        return (found,)
    usable = tuple(s for s in policy.streams if "http" in s.events and not s.consent_gated)
    if not usable:
        raise UsageError(
            "--policy", "no stream takes http requests without consent gating", "add such a stream"
        )
    if output == "same" and len(usable) > 1:
        raise UsageError(
            "--stream",
            "several streams take http requests, and a line is written back through one",
            "pass --stream NAME, one of: " + ", ".join(s.name for s in usable),
        )
    return usable


def _given(source: Any, wanted: frozenset[bytes]) -> Facts:
    """The reader of a parsed line: the facts are built already."""
    fact: Facts = source
    return fact


def _no_address(packed: bytes) -> str:
    return "{ip}"


class Anonymizer:
    """A policy compiled for log lines: ``anonymizer.line(text)`` gives what to write for it."""

    def __init__(
        self,
        policy: Policy,
        log_format: LogFormat,
        output: str = "same",
        stream: str | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if output not in OUTPUTS:
            raise UsageError("--output", f"unknown output {output!r}", "use one of " + ", ".join(OUTPUTS))
        streams = select_streams(policy, stream, output)
        # The user-agent parser is built at the first line that needs it: on the compiled path
        # the extension has its own, and Python's is for the lines handed back to it, if any.
        self.pipeline = Pipeline(dataclasses.replace(policy, streams=streams), warm=False)
        self.format = log_format
        self.output = output
        self.encoding = "utf-8" if isinstance(log_format, CaddyFormat) else "latin-1"
        self.counts = Counts()
        self._clock = clock
        rule = streams[0].fields.get("client_ip")
        self._address = address_action(rule) if rule is not None else None
        self._keys = self.pipeline.keys
        #: The records of the last line, for ``--export``.
        self.last_records: list[Output] = []

    def records(self, line: LogLine) -> list[Output]:
        """The pipeline's records for a parsed line, as the middleware makes them for a request."""
        capture = Capture(
            "http",
            _given,
            line,
            line.time_ns if line.time_ns is not None else self._clock(),
            line.duration_ns or 0,
            line.status,
            line.request_bytes,
            line.response_bytes,
            line.user,
            None,
        )
        outputs = self.pipeline.process(capture)
        if line.duration_ns is None:  # the log does not say: no made-up zero
            for out in outputs:
                out.attributes.pop("http.server.request.duration", None)
        return outputs

    def address_for(self, ring: Any) -> AddressAction:
        """The stream's ``client_ip`` action for addresses elsewhere in a line, with its key."""
        action = self._address
        if action is None:
            return _no_address
        return functools.partial(action, ring)

    def _ring_now(self) -> Any:
        if self._keys is None:
            return None
        try:
            return self._keys.ring_for(self._clock())
        except KeyShredded:  # pragma: no cover - the current epoch's key always exists
            return None

    def scrub(self, text: str) -> str:
        """A line that did not parse, as free text: addresses by the stream's action, the rest out."""
        return scrub_free_text(text, self.address_for(self._ring_now()))

    def line(
        self, text: str, too_long: bool = False, cut: bool = False, at_end: bool = False
    ) -> str | list[bytes] | None:
        """What to write for one input line (without its newline): a line, records, or nothing.

        ``too_long``: only its first :data:`MAX_LINE` bytes are here; ``cut``: a stop signal came
        before its end; ``at_end``: the input ended before its newline (its writer may have died
        mid-line) and it does not parse. Each may end inside an address, of which the free-text
        scrubber would miss the shortest parts: it is scrubbed without its last, unfinished word.
        """
        counts = self.counts
        counts.lines += 1
        parsed = None if too_long or cut else self.format.parse(text)
        if parsed is None:
            self.last_records = []
            if too_long or cut or at_end:
                if too_long:
                    counts.too_long += 1
                elif cut:
                    counts.cut_at_stop += 1
                else:
                    counts.cut_at_end += 1
                text = text[: text.rfind(" ")] if " " in text else ""  # no address cut in half
            else:
                counts.unparsed += 1
            return self.scrub(text) if self.output == "same" else None
        outputs = self.records(parsed)
        self.last_records = outputs
        if not outputs:
            counts.no_key += 1
            return None
        counts.parsed += 1
        counts.records += len(outputs)
        if self.output == "same":
            return self.format.write(parsed, outputs[0].attributes, self.address_for(parsed.ring))
        if self.output == "json":
            return [record_line(out) for out in outputs]
        return None


def python_line(
    anonymizer: Anonymizer, raw: bytes, too_long: bool, cut: bool = False, at_end: bool = False
) -> bytes:
    """What to write for one raw line (without its newline), made by the Python path."""
    text = raw.decode(anonymizer.encoding, "replace")
    if text.endswith("\r"):
        text = text[:-1]
    result = anonymizer.line(text, too_long, cut, at_end)
    if result is None:
        return b""
    if isinstance(result, str):
        return result.encode(anonymizer.encoding, "replace") + b"\n"
    return b"".join(r + b"\n" for r in result)


def run(
    anonymizer: Anonymizer,
    in_fd: int,
    out_fd: int,
    *,
    sinks: Sequence[Sink] = (),
    wake_fd: int | None = None,
) -> Counts:
    """Anonymize ``in_fd`` into ``out_fd`` until EOF (or a signal written to ``wake_fd``).

    Each read's lines are written with one ``write``, so a pipe's lines leave as they arrive
    and a file's in large blocks. ``sinks`` also receive every record (``--export``). Without
    sinks, and where the extension takes the format and policy, its compiled path does the
    lines (see :mod:`.anonymize_native`), and a regular file is read in larger blocks.
    """
    from .anonymize_native import compiled_lines  # here: that module imports this one

    compiled = None if sinks else compiled_lines(anonymizer)
    read_size = READ_SIZE
    if compiled is not None and stat.S_ISREG(os.fstat(in_fd).st_mode):
        read_size = _FILE_READ_SIZE
    source = LineInput(in_fd, wake_fd, read_size)
    counts = anonymizer.counts
    counts.compiled = compiled is not None
    for chunk in source.chunks(whole=compiled is not None):
        batch: list[Output] = []
        if isinstance(chunk, tuple):
            data = compiled.block(*chunk) if compiled is not None else b""
        else:
            out: list[bytes] = []
            for raw, too_long in chunk:
                out.append(python_line(anonymizer, raw, too_long))
                if sinks and anonymizer.last_records:
                    batch.extend(anonymizer.last_records)
            data = b"".join(out)
        if data:
            write_all(out_fd, data)
        _export(sinks, batch, counts)
    if source.pending:  # a stop signal came before its newline, or the input ended without one
        stopped = source.stopped
        data = python_line(anonymizer, source.pending, False, cut=stopped, at_end=not stopped)
        if data:
            write_all(out_fd, data)
        _export(sinks, anonymizer.last_records, counts)
    for sink in sinks:
        try:
            sink.flush()
            sink.close()
        except Exception as exc:
            counts.export_failures += 1
            log.warning("privlog anonymize: export failed at exit (%s)", type(exc).__name__)
    return counts


def _export(sinks: Sequence[Sink], batch: list[Output], counts: Counts) -> None:
    for sink in sinks if batch else ():
        try:
            sink.write(batch)
        except Exception as exc:  # a failing exporter is counted, never fatal
            counts.export_failures += 1
            log.warning("privlog anonymize: export failed (%s)", type(exc).__name__)


def stop_on_signals() -> tuple[int, Callable[[], None]]:
    """Make SIGTERM and SIGHUP end the input cleanly: returns the fd to watch and an undo."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous_fd = signal.set_wakeup_fd(write_fd)
    handlers = {
        sig: signal.signal(sig, lambda signum, frame: None) for sig in (signal.SIGTERM, signal.SIGHUP)
    }

    def undo() -> None:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        os.close(read_fd)
        os.close(write_fd)

    return read_fd, undo
