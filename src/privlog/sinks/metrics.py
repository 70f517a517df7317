"""Anonymous aggregates as OpenTelemetry metrics (as a privacy policy may promise: "aggregated statistics may be
kept longer in anonymised form").

Counts and duration histograms by route template, method, status class, browser family and
country. Only these low-cardinality dimensions are read from the transformed records, never a
per-person value, so the metrics can outlive the records they were counted from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter_provider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from .._core.dispatcher import Stats
from .._core.record import Output
from .._errors import ConfigurationError

#: The only attributes aggregates carry: none of them identifies a person.
DIMENSIONS = ("http.route", "http.request.method", "user_agent.name", "geo.country.iso_code")
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


def meter_provider_from_env(service: str, environ: Mapping[str, str] | None = None) -> MeterProvider:
    """The application's SDK MeterProvider, or one built from the standard OTEL_* variables."""
    current = get_meter_provider()
    if isinstance(current, SdkMeterProvider):
        return current
    env = os.environ if environ is None else environ
    name = env.get("OTEL_METRICS_EXPORTER", "otlp").strip().lower()
    exporter: MetricExporter
    if name == "console":
        exporter = ConsoleMetricExporter()
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        except ImportError:
            raise ConfigurationError(
                "metrics", "the OTLP metric exporter is not installed", "pip install privlog-middleware[otlp]"
            ) from None
        exporter = OTLPMetricExporter()
    attrs = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": service}
    return SdkMeterProvider([PeriodicExportingMetricReader(exporter)], resource=Resource.create(attrs))


class AggregateMetricsSink:
    """Counts the records of one stream into OpenTelemetry instruments."""

    name = "metrics"

    def __init__(self, provider: MeterProvider, stream: str) -> None:
        self.provider = provider
        self.stream = stream
        meter = provider.get_meter("privlog")
        self._requests = meter.create_counter(
            "privlog.requests", unit="{request}", description="HTTP requests, anonymous"
        )
        self._duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Request duration, anonymous",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )

    def watch(self, stats: Callable[[], Stats]) -> None:
        """Report privlog's own counters too, so a dashboard sees what was lost and where:
        ``privlog.records`` by ``privlog.outcome``, and ``privlog.sink.records`` by
        ``privlog.sink`` and ``privlog.outcome`` (delivered, lost)."""
        meter = self.provider.get_meter("privlog")

        def records(options: CallbackOptions) -> Iterable[Observation]:
            s = stats()
            for outcome in ("captured", "exported", "dropped", "failed", "unkeyed"):
                yield Observation(getattr(s, outcome), {"privlog.outcome": outcome})

        def per_sink(options: CallbackOptions) -> Iterable[Observation]:
            for name, counts in stats().sinks.items():
                yield Observation(counts.delivered, {"privlog.sink": name, "privlog.outcome": "delivered"})
                yield Observation(counts.lost, {"privlog.sink": name, "privlog.outcome": "lost"})

        meter.create_observable_counter(
            "privlog.records", [records], unit="{record}", description="privlog's own counters"
        )
        meter.create_observable_counter(
            "privlog.sink.records", [per_sink], unit="{record}", description="what each sink delivered or lost"
        )

    def write(self, records: Sequence[Output]) -> None:
        for rec in records:
            attrs = rec.attributes
            if rec.stream != self.stream or attrs.get("event.name") != "http.request":
                continue
            dims: dict[str, Any] = {"http.route": attrs.get("http.route", "_unmatched")}
            for key in DIMENSIONS[1:]:
                value = attrs.get(key)
                if value is not None:
                    dims[key] = value
            status = attrs.get("http.response.status_code")
            if isinstance(status, int):
                dims["http.response.status_class"] = f"{status // 100}xx"
            self._requests.add(1, dims)
            duration = attrs.get("http.server.request.duration")
            if isinstance(duration, float):
                self._duration.record(duration, dims)

    def flush(self) -> None:
        flush = getattr(self.provider, "force_flush", None)
        if flush is not None:
            flush()

    def close(self) -> None:
        self.flush()
