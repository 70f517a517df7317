"""Which sinks a policy gets: ``[export] sink`` and the standard ``OTEL_*`` variables, read once."""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs import LoggerProvider

from .._core.dispatcher import Sink
from .._policy.model import Policy
from .jsonl import JsonlStore
from .metrics import AggregateMetricsSink, meter_provider_from_env
from .otel import OpenTelemetrySink, OtelEnvironment, app_logger_provider, logger_provider_from_env
from .otlp import OtlpHttpSink


def build_sinks(
    policy: Policy,
    provider: LoggerProvider | None = None,
    directory: str | None = None,
    meter_provider: MeterProvider | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Sink]:
    """The sinks ``[export] sink`` names. ``auto``: the app's OpenTelemetry LoggerProvider if it
    has one; else, when OTEL_* asks for OTLP/HTTP, privlog's fast OTLP sink (the SDK path for
    other exporters); else the embedded JSONL store."""
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
    if sink == "otlp":
        sinks.append(OtlpHttpSink(service_name=env.get("OTEL_SERVICE_NAME") or policy.service, environ=env))
    elif sink == "otel":
        if otel_provider is not None:
            sinks.append(OpenTelemetrySink(otel_provider))
        else:
            sinks.append(OpenTelemetrySink(logger_provider_from_env(policy.service, env), owns_provider=True))
    if sink == "jsonl" or both:
        days = {s.name: s.retention.days for s in policy.streams}
        basis = {s.name: s.retention.counted_from for s in policy.streams}
        sinks.append(JsonlStore(directory or policy.export.directory, days, basis))
    if policy.metrics_stream is not None:
        meters = meter_provider or meter_provider_from_env(policy.service)
        sinks.append(AggregateMetricsSink(meters, policy.metrics_stream))
    return sinks
