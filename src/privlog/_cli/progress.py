"""Progress for long commands, on a terminal only: piped or redirected output stays clean."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """One status line on stderr, redrawn at most ten times a second; silent unless a tty."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.stream.isatty()
        self.label = label
        self.total = total
        self.done = 0
        self._drawn = 0.0

    def advance(self, amount: int, note: str = "") -> None:
        self.done += amount
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn < 0.1 and self.done < self.total:
            return
        self._drawn = now
        share = f"{100 * self.done // self.total}%" if self.total else ""
        self.stream.write(f"\r\x1b[K{self.label}: {share} {_size(self.done)} of {_size(self.total)} {note}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
