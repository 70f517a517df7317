"""Where records go: the embedded JSONL store and OpenTelemetry."""

from .jsonl import JsonlStore, sweep
from .otel import OpenTelemetrySink, logger_provider_from_env

__all__ = ["JsonlStore", "OpenTelemetrySink", "logger_provider_from_env", "sweep"]
