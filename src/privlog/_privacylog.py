"""One deployment's privlog: compiled policy, sinks and dispatcher, shared by its adapters."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._core.capture import Capture, Reader
from ._core.dispatcher import Dispatcher, Sink, Stats
from ._core.pipeline import AUTH_EVENTS, Pipeline
from ._errors import UsageError, did_you_mean
from ._policy.model import Policy

if TYPE_CHECKING:  # the SDK is imported only when a configuration uses it
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.sdk._logs import LoggerProvider

log = logging.getLogger("privlog")


class PrivacyLog:
    """A compiled policy with its worker and sinks. Adapters (ASGI, WSGI, Django) share one.

    ``sinks`` overrides the policy's ``[export]`` choice; ``logger_provider`` hands privlog
    the application's own OpenTelemetry LoggerProvider.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        logger_provider: LoggerProvider | None = None,
        sinks: list[Sink] | None = None,
        directory: str | Path | None = None,
        meter_provider: MeterProvider | None = None,
        native: bool | None = None,
    ) -> None:
        self.policy = policy
        self.pipeline = Pipeline(policy)
        from .sinks.select import build_sinks

        chosen = (
            sinks
            if sinks is not None
            else build_sinks(policy, logger_provider, str(directory) if directory else None, meter_provider)
        )
        export = policy.export
        self.dispatcher = Dispatcher(
            self.pipeline, chosen, export.queue_size, export.batch_size, export.flush_interval, native=native
        )
        self.kinds = self.pipeline.kinds
        self._said_no_auth_stream = False
        for sink in chosen:
            watch = getattr(sink, "watch", None)
            if callable(watch):  # the aggregate metrics report privlog's own counters too
                watch(self.dispatcher.stats)

    @classmethod
    def for_adapter(
        cls,
        policy: Policy | None,
        privlog: PrivacyLog | None,
        *,
        logger_provider: LoggerProvider | None = None,
        directory: str | Path | None = None,
    ) -> PrivacyLog:
        """The PrivacyLog a middleware uses: the one given, or a new one built from ``policy``."""
        if privlog is not None:
            return privlog
        if policy is None:
            raise UsageError(
                "policy",
                "PrivacyLogMiddleware needs a policy",
                'pass policy=Policy.from_toml("privlog.toml") or privlog=PrivacyLog(...)',
            )
        return cls(policy, logger_provider=logger_provider, directory=directory)

    def records(self, field: str) -> bool:
        """True when some stream captures ``field``: adapters skip work nobody asked for."""
        return any(field in s.fields for s in self.policy.streams)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return self.dispatcher.sinks

    def submit(self, capture: Capture) -> None:
        """Queue a capture; see :meth:`Dispatcher.submit`."""
        self.dispatcher.submit(capture)

    def auth_event(
        self,
        event: str,
        *,
        user_id: str | int | None = None,
        source: Any = None,
        reader: Reader | None = None,
    ) -> None:
        """Log an authentication event (``login_success``, ``login_failure``, ``logout``,
        ``password_reset``, ``password_change``) into the streams that take ``auth`` events.

        ``user_id`` is pseudonymised as the policy says; ``source`` is the request (an ASGI
        scope, with the matching ``reader``) so the client address is treated as for requests.
        An unknown event name raises ``ValueError``: it is a programming error, not input.
        """
        if event not in AUTH_EVENTS:
            raise ValueError(f"unknown auth event {event!r}: {did_you_mean(event, AUTH_EVENTS)}")
        if "auth" not in self.kinds:
            if not self._said_no_auth_stream:
                self._said_no_auth_stream = True
                log.warning(
                    "privlog: auth events are not recorded: no stream of this policy takes them "
                    '(add "auth" to a stream\'s events)'
                )
            return
        uid = None if user_id is None else str(user_id)
        self.dispatcher.submit(Capture.auth(event, time.time_ns(), uid, reader, source))

    def stats(self) -> Stats:
        """Counters: captured, exported, dropped, failed, queued, unkeyed, and per sink
        what it delivered and lost (see :class:`Stats`)."""
        return self.dispatcher.stats()

    def flush(self) -> None:
        """Export everything queued now (blocks the caller)."""
        self.dispatcher.flush()

    def close(self) -> None:
        """Flush and stop. Called for you at interpreter exit and on ASGI lifespan shutdown."""
        self.dispatcher.close()


def call_user_hook(hook: Callable[[Any], object], request: Any) -> str | None:
    """The user id a hook returns for a request, as text; None if it fails (counted in the log).

    Adapters call user hooks on the request thread, so nothing they raise may escape,
    not even from the returned value's ``__str__``.
    """
    try:
        value = hook(request)
        return None if value is None else str(value)
    except Exception as exc:
        log.warning("privlog: user_id hook raised %s; the record has no user id", type(exc).__name__)
        return None
