"""One deployment's privlog: compiled policy, sinks and dispatcher, shared by its adapters."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs import LoggerProvider

from ._core.capture import Capture, Reader, read_asgi_scope
from ._core.dispatcher import Dispatcher, Sink, Stats
from ._core.pipeline import AUTH_EVENTS, Pipeline
from ._errors import PolicyError, did_you_mean
from ._policy.model import Policy
from .sinks.jsonl import JsonlStore
from .sinks.metrics import AggregateMetricsSink, meter_provider_from_env
from .sinks.otel import OpenTelemetrySink, app_logger_provider, env_requests_otel, logger_provider_from_env
from .sinks.otlp import OtlpHttpSink

log = logging.getLogger("privlog")
_default: PrivacyLog | None = None
_default_lock = threading.Lock()


def _otlp_http_from_env() -> bool:
    """True when the standard variables ask for OTLP over HTTP: the fast sink can serve them."""
    env = os.environ
    exporter = env.get("OTEL_LOGS_EXPORTER", "otlp").strip().lower()
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    return exporter == "otlp" and protocol == "http/protobuf"


def _build_sinks(
    policy: Policy,
    provider: LoggerProvider | None,
    directory: str | None,
    meter_provider: MeterProvider | None,
) -> list[Sink]:
    """The sinks ``[export] sink`` names. ``auto``: the app's OpenTelemetry LoggerProvider if it
    has one; else, when OTEL_* asks for OTLP/HTTP, privlog's fast OTLP sink (the SDK path for
    other exporters); else the embedded JSONL store."""
    sink = policy.export.sink
    otel_provider = provider or app_logger_provider()
    both = sink == "both"
    if sink in ("auto", "both"):
        if otel_provider is not None:
            sink = "otel"
        elif env_requests_otel():
            sink = "otlp" if _otlp_http_from_env() else "otel"
        else:
            sink = "otlp" if both else "jsonl"  # "both" means an exporter too: OTLP's defaults
    sinks: list[Sink] = []
    if sink == "otlp":
        sinks.append(OtlpHttpSink(service_name=os.environ.get("OTEL_SERVICE_NAME") or policy.service))
    elif sink == "otel":
        if otel_provider is not None:
            sinks.append(OpenTelemetrySink(otel_provider))
        else:
            sinks.append(OpenTelemetrySink(logger_provider_from_env(policy.service), owns_provider=True))
    if sink == "jsonl" or both:
        days = {s.name: s.retention.days for s in policy.streams}
        sinks.append(JsonlStore(directory or policy.export.directory, days))
    if policy.metrics_stream is not None:
        meters = meter_provider or meter_provider_from_env(policy.service)
        sinks.append(AggregateMetricsSink(meters, policy.metrics_stream))
    return sinks


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
    ) -> None:
        global _default
        self.policy = policy
        self.pipeline = Pipeline(policy)
        chosen = (
            sinks
            if sinks is not None
            else _build_sinks(policy, logger_provider, str(directory) if directory else None, meter_provider)
        )
        export = policy.export
        self.dispatcher = Dispatcher(
            self.pipeline, chosen, export.queue_size, export.batch_size, export.flush_interval
        )
        self.kinds = self.pipeline.kinds
        with _default_lock:
            _default = self

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
            raise PolicyError(
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
            return
        uid = None if user_id is None else str(user_id)
        self.dispatcher.submit(
            Capture(
                "auth",
                reader if source is not None else None,
                source,
                time.time_ns(),
                0,
                None,
                None,
                None,
                uid,
                {"event": event},
            )
        )

    def stats(self) -> Stats:
        """Counters: captured, exported, dropped, failed, queued."""
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


def default_privlog() -> PrivacyLog:
    """The most recently created :class:`PrivacyLog` (the one the middleware built)."""
    if _default is None:
        raise PolicyError(
            "privlog",
            "no privlog is configured yet",
            "add the privlog middleware (or create a PrivacyLog) before logging events",
        )
    return _default


def log_auth_event(event: str, *, user_id: str | int | None = None, request: Any = None) -> None:
    """Log an authentication event through the configured privlog.

    ``request`` may be a Starlette/FastAPI ``Request`` or an ASGI scope; its client address
    is resolved and transformed exactly as for request records.
    """
    scope = getattr(request, "scope", request)
    default_privlog().auth_event(
        event, user_id=user_id, source=scope, reader=read_asgi_scope if scope is not None else None
    )
