"""What the standard ``OTEL_*`` variables ask of log export, read without importing the SDK."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class OtelEnvironment:
    """What the standard OpenTelemetry variables ask of log export."""

    exporters: tuple[str, ...]
    """``OTEL_LOGS_EXPORTER`` as a list (empty when unset)."""
    protocol: str
    """``OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`` or ``OTEL_EXPORTER_OTLP_PROTOCOL`` (default http/protobuf)."""
    endpoint_set: bool
    """An OTLP endpoint is configured."""
    disabled: bool = False
    """``OTEL_SDK_DISABLED=true``: the SDK exports nothing, and neither does privlog's own OTLP sink."""

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> OtelEnvironment:
        env = os.environ if environ is None else environ
        names = tuple(n.strip().lower() for n in env.get("OTEL_LOGS_EXPORTER", "").split(",") if n.strip())
        protocol = (
            env.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
        ).strip()
        endpoint = bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"))
        disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        return cls(names, protocol, endpoint, disabled)

    @property
    def requests_export(self) -> bool:
        """True when the variables ask for a log exporter (``none`` asks for none)."""
        if self.exporters == ("none",) or self.disabled:
            return False
        return bool(self.exporters) or self.endpoint_set

    @property
    def fast_otlp(self) -> bool:
        """True when privlog's own OTLP/HTTP sink can serve what the variables ask for."""
        return self.exporters in ((), ("otlp",)) and self.protocol == "http/protobuf"


def env_requests_otel(environ: Mapping[str, str] | None = None) -> bool:
    """True when the standard OTEL_* variables ask for a log exporter."""
    return OtelEnvironment.read(environ).requests_export
