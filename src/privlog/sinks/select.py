"""Which sinks a policy gets: ``[export] sink`` and the standard ``OTEL_*`` variables, read once."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._core.dispatcher import Sink
from .._policy.model import Policy
from .otelenv import OtelEnvironment

log = logging.getLogger("privlog")

if TYPE_CHECKING:  # each sink's module, and the SDK, is imported only when the policy uses it
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.sdk._logs import LoggerProvider


def app_logger_provider() -> LoggerProvider | None:
    """The application's global SDK LoggerProvider, if it installed one.

    An app that set one has imported the SDK: when it is not loaded there is none to find,
    and privlog does not load it just to look.
    """
    if "opentelemetry.sdk._logs" not in sys.modules:
        return None
    from .otel import app_logger_provider as installed

    return installed()


def build_sinks(
    policy: Policy,
    provider: LoggerProvider | None = None,
    directory: str | None = None,
    meter_provider: MeterProvider | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Sink]:
    """The sinks ``[export] sink`` names. ``auto``: the app's OpenTelemetry LoggerProvider if it
    has one; else, when OTEL_* asks for OTLP/HTTP, privlog's fast OTLP sink (the SDK path for
    other exporters); else the embedded JSONL store. ``OTEL_SDK_DISABLED=true`` turns the
    OpenTelemetry sinks off, as it does the SDK: a :class:`DisabledExport` in their place counts
    their records as lost."""
    env = os.environ if environ is None else environ
    otel = OtelEnvironment.read(env)
    sink = policy.export.sink
    otel_provider = provider or app_logger_provider()
    both = sink == "both"
    if sink in ("auto", "both"):
        if otel_provider is not None:
            sink = "otel"
        elif otel.requests_export:
            sink = "otlp" if otel.fast_otlp else "otel"
        else:
            sink = "otlp" if both else "jsonl"  # "both" means an exporter too: OTLP's defaults
    sinks: list[Sink] = []
    if otel.disabled and (sink == "otlp" or (sink == "otel" and otel_provider is None)):
        # As the SDK does: export nothing over OpenTelemetry, keep the JSONL store if asked for;
        # stats() counts the records as lost by the sink that was switched off.
        from .disabled import DisabledExport

        log.warning(
            "privlog: OTEL_SDK_DISABLED is true: records are not exported over OpenTelemetry "
            "(stats() counts them as lost by the %r sink)",
            sink,
        )
        sinks.append(DisabledExport(sink))
        sink = "none"
    if sink == "otlp":
        from .otlp import OtlpHttpSink

        sinks.append(OtlpHttpSink(service_name=env.get("OTEL_SERVICE_NAME") or policy.service, environ=env))
    elif sink == "otel":
        from .otel import OpenTelemetrySink, logger_provider_from_env

        if otel_provider is not None:
            sinks.append(OpenTelemetrySink(otel_provider))
        else:
            sinks.append(OpenTelemetrySink(logger_provider_from_env(policy.service, env), owns_provider=True))
    if sink == "jsonl" or both:
        from .jsonl import JsonlStore

        days = {s.name: s.retention.days for s in policy.streams}
        basis = {s.name: s.retention.counted_from for s in policy.streams}
        sinks.append(JsonlStore(directory or policy.export.directory, days, basis))
    if policy.metrics_stream is not None:
        from .metrics import AggregateMetricsSink, meter_provider_from_env

        meters = meter_provider or meter_provider_from_env(policy.service)
        sinks.append(AggregateMetricsSink(meters, policy.metrics_stream))
    return sinks
