"""A structlog processor that scrubs every value of an event as privlog's logging filter does.

    structlog.configure(processors=[..., structlog.processors.format_exc_info,
                                    ScrubProcessor(), structlog.processors.JSONRenderer()])

Put it after ``format_exc_info`` (so the rendered traceback is scrubbed) and before the
renderer. Addresses get the client-address action of the policy; e-mails, UUIDs, credentials
and generated-looking tokens become placeholders.
"""

from __future__ import annotations

from collections.abc import Iterable

from structlog.typing import EventDict, WrappedLogger

from ._logging.records import DEFAULT_KEEP, WITHHELD, Binding, scrub_value
from ._privacylog import PrivacyLog
from ._transforms.freetext import scrub_traceback

#: Keys left as they are: structlog's own, and trace ids (see ``privlog.logging.DEFAULT_KEEP``).
KEEP = DEFAULT_KEEP | {"timestamp", "level", "logger", "logger_name", "exc_info", "stack_info"}
_TRACEBACKS = frozenset({"exception", "stack"})


class ScrubProcessor:
    """Scrubs an event dict. ``privlog=None`` follows the privlog the app's middleware
    built; ``keep`` names keys left alone."""

    def __init__(
        self,
        privlog: PrivacyLog | None = None,
        *,
        stream: str | None = None,
        keep: Iterable[str] = KEEP,
    ) -> None:
        self._binding = Binding(privlog, stream)
        self._keep = frozenset(keep)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        try:
            scrub = self._binding.shaper().text
            keep = self._keep
            for key, value in event_dict.items():
                if key in keep:
                    continue
                if key in _TRACEBACKS and isinstance(value, str):
                    event_dict[key] = scrub_traceback(value, scrub)
                else:
                    event_dict[key] = scrub_value(value, scrub)
        except Exception as exc:
            return {"event": WITHHELD % type(exc).__name__}
        return event_dict
