"""The input of ``privlog anonymize``: lines from a file descriptor, as they arrive.

A pipe's lines are handed on after each read, so they leave as they come; a line longer than
:data:`MAX_LINE` is cut there and the rest skipped; a stop signal (see ``stop_on_signals``)
ends the input between reads. A last line without its newline is left in ``pending``, for the
caller to treat as possibly unfinished.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterator

from .logformats import MAX_LINE

READ_SIZE = 65_536
"""Bytes asked for in one read: a pipe's usual buffer."""

Span = tuple[bytes, int, int]
"""Whole lines for the compiled path: ``data[start:end]``, without copying them out of the read."""


class LineInput:
    """Lines from a file descriptor, read in chunks (so a pipe's lines come out as they arrive),
    each at most :data:`MAX_LINE` bytes; a SIGTERM/SIGHUP ends the input cleanly."""

    def __init__(self, fd: int, wake_fd: int | None = None, read_size: int = READ_SIZE) -> None:
        self.fd = fd
        self.wake_fd = wake_fd
        self.read_size = read_size
        self.stopped = False
        self._pending = b""
        self._skipping = False  # inside the rest of a line that was too long

    @property
    def pending(self) -> bytes:
        """The start of a line whose newline has not come (empty inside an over-long one)."""
        return b"" if self._skipping else self._pending

    def chunks(self, whole: bool = False) -> Iterator[Span | list[tuple[bytes, bool]]]:
        """Yield lists of (line, too_long) for each read, until EOF or a stop signal; with
        ``whole``, a read's complete lines come as spans of it (each line with its newline,
        over-long ones too) for the compiled path."""
        while True:
            data = self._read()
            if not data:
                return  # a last line without its newline stays in ``pending``
            yield from self._blocks(data) if whole else (self._split(data),)

    def _read(self) -> bytes:
        if self.wake_fd is not None:
            while True:
                ready, _, _ = select.select([self.fd, self.wake_fd], [], [])
                if self.wake_fd in ready:
                    self.stopped = True
                    return b""
                if ready:
                    break
        return os.read(self.fd, self.read_size)

    def _split(self, data: bytes) -> list[tuple[bytes, bool]]:
        if self._pending:
            data = self._pending + data
        lines = data.split(b"\n")
        self._pending = lines.pop()
        out: list[tuple[bytes, bool]] = []
        if self._skipping and lines:
            lines.pop(0)  # the end of the over-long line
            self._skipping = False
        for raw in lines:
            if len(raw) > MAX_LINE:
                out.append((raw[:MAX_LINE], True))
            else:
                out.append((raw, False))
        out.extend(self._overlong())
        return out

    def _blocks(self, data: bytes) -> list[Span | list[tuple[bytes, bool]]]:
        """A read as spans of whole lines. The read itself is not copied (a megabyte copied
        twice per read cost more than a tenth of the compiled path's time): the line the last
        read began is finished with this one's first line, and only the unfinished last line
        is kept."""
        out: list[Span | list[tuple[bytes, bool]]] = []
        start = 0
        if self._pending or self._skipping:
            first = data.find(b"\n") + 1
            if not first:  # no line ends in this read
                if not self._skipping:
                    self._pending += data
                tail = self._overlong()
                return [tail] if tail else []
            if self._skipping:
                self._skipping = False  # the end of the over-long line: dropped
            else:
                head = self._pending + data[:first]
                out.append((head, 0, len(head)))
            start = first
        end = data.rfind(b"\n") + 1
        if end > start:
            out.append((data, start, end))
        self._pending = data[max(start, end) :]
        tail = self._overlong()
        if tail:
            out.append(tail)
        return out

    def _overlong(self) -> list[tuple[bytes, bool]]:
        """A line still unfinished past :data:`MAX_LINE`: its start, cut; the rest is skipped."""
        if len(self._pending) <= MAX_LINE:
            return []
        out = [] if self._skipping else [(self._pending[:MAX_LINE], True)]
        self._skipping = True
        self._pending = b""
        return out


def write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd``: a pipe may take less in one write."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
