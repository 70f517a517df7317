"""Where records go: the embedded JSONL store and OpenTelemetry.

Each sink's module is imported when first named, so the OpenTelemetry SDK is loaded only by
a configuration that exports through it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .jsonl import JsonlStore, sweep
    from .otel import OpenTelemetrySink, logger_provider_from_env
    from .otlp import OtlpHttpSink

_WHERE = {
    "JsonlStore": ".jsonl",
    "sweep": ".jsonl",
    "OpenTelemetrySink": ".otel",
    "logger_provider_from_env": ".otel",
    "OtlpHttpSink": ".otlp",
}

__all__ = ["JsonlStore", "OpenTelemetrySink", "OtlpHttpSink", "logger_provider_from_env", "sweep"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
