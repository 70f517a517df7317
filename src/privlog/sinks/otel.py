"""OpenTelemetry sink: each record becomes an OTel log record through an SDK LoggerProvider.

Any OTel log exporter then works (OTLP/HTTP, OTLP/gRPC, console). The provider is the
application's own when it has one, else one built from the standard ``OTEL_*`` variables.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber, get_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
)
from opentelemetry.sdk.resources import Resource

from .._core.record import Output, otel_attributes
from .._errors import ConfigurationError
from .._version import __version__
from ._summary import body, severity
from .otelenv import OtelEnvironment

_VERSION = __version__
#: The log record's own event name (OTLP ``event_name``) exists in opentelemetry-api 1.35 and later.
_HAS_EVENT_NAME = "event_name" in inspect.signature(LogRecord.__init__).parameters


def app_logger_provider() -> LoggerProvider | None:
    """The application's global SDK LoggerProvider, if it installed one."""
    provider = get_logger_provider()
    return provider if isinstance(provider, LoggerProvider) else None


def _exporter(name: str, protocol: str) -> LogRecordExporter:
    if name == "console":
        return ConsoleLogRecordExporter()
    if name != "otlp":
        raise ConfigurationError("OTEL_LOGS_EXPORTER", f"unknown exporter {name!r}", "use otlp, console or none")
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcExporter

            exporter: LogRecordExporter = GrpcExporter()
            return exporter
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter()
    except ImportError:
        package = "opentelemetry-exporter-otlp-proto-grpc" if protocol == "grpc" else "privlog-middleware[otlp]"
        raise ConfigurationError(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            f"the OTLP {protocol} exporter is not installed",
            f"pip install {package}",
        ) from None


def logger_provider_from_env(service: str, environ: Mapping[str, str] | None = None) -> LoggerProvider:
    """A LoggerProvider with the exporters the standard OTEL_* variables name (default: otlp)."""
    env = os.environ if environ is None else environ
    otel = OtelEnvironment.read(env)
    attrs = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": service}
    provider = LoggerProvider(resource=Resource.create(attrs))
    for name in otel.exporters or ("otlp",):
        provider.add_log_record_processor(BatchLogRecordProcessor(_exporter(name, otel.protocol)))
    return provider


class OpenTelemetrySink:
    """Emits records through an OpenTelemetry SDK LoggerProvider."""

    name = "otel"

    def __init__(self, provider: LoggerProvider, owns_provider: bool = False) -> None:
        self.provider = provider
        self._owns = owns_provider
        self._logger = provider.get_logger("privlog", _VERSION)

    def write(self, records: Sequence[Output]) -> None:
        emit = self._logger.emit
        now = time.time_ns()
        for rec in records:
            name = rec.attributes.get("event.name")
            extra: dict[str, Any] = {"event_name": name} if _HAS_EVENT_NAME else {}
            number, text = severity(rec.attributes)
            emit(
                LogRecord(
                    timestamp=rec.timestamp_ns,
                    observed_timestamp=now,
                    severity_text=text,
                    severity_number=SeverityNumber(number),
                    body=body(rec.attributes),
                    attributes=otel_attributes(rec.attributes),
                    **extra,
                )
            )

    def flush(self) -> None:
        self.provider.force_flush()

    def close(self) -> None:
        self.provider.force_flush()
        if self._owns:
            self.provider.shutdown()
