"""privlog: request logs that keep the promises of your privacy policy.

Fields are captured from an allow-list, transformed (truncated or keyed-hashed IPs,
pseudonymised ids, generalised user agents), tagged with their retention class, and shipped
through OpenTelemetry or into a local JSONL store that deletes what has expired.
"""

from ._core.dispatcher import Sink, SinkStats, Stats
from ._core.pipeline import Pipeline
from ._core.record import Output
from ._errors import ConfigurationError, PolicyError, PrivlogError, UsageError
from ._policy.model import Policy
from ._policy.types import ExportSettings, FieldRule, RetentionClass, Stream
from ._privacylog import PrivacyLog
from ._version import __version__
from .asgi import PrivacyLogMiddleware, current_privlog, log_auth_event

__all__ = [
    "ConfigurationError",
    "ExportSettings",
    "FieldRule",
    "Output",
    "Pipeline",
    "Policy",
    "PolicyError",
    "PrivacyLog",
    "PrivacyLogMiddleware",
    "PrivlogError",
    "RetentionClass",
    "Sink",
    "SinkStats",
    "Stats",
    "Stream",
    "UsageError",
    "__version__",
    "current_privlog",
    "log_auth_event",
]
