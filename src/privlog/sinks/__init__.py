"""Where records go: the embedded JSONL store and OpenTelemetry."""

from .jsonl import JsonlStore, sweep
from .otel import OpenTelemetrySink, logger_provider_from_env
from .otlp import OtlpHttpSink

__all__ = ["JsonlStore", "OpenTelemetrySink", "OtlpHttpSink", "logger_provider_from_env", "sweep"]
