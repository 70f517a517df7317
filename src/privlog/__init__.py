"""privlog: request logs that keep the promises of your privacy policy.

Fields are captured from an allow-list, transformed (truncated or keyed-hashed IPs,
pseudonymised ids, generalised user agents), tagged with their retention class, and shipped
through OpenTelemetry or into a local JSONL store that deletes what has expired.
"""

from ._dispatcher import Sink, Stats
from ._engine import PrivacyLog, default_privlog, log_auth_event
from ._errors import PolicyError
from ._pipeline import Output, Pipeline, compile_policy
from ._policy import Policy
from ._policy_types import ExportSettings, FieldRule, RetentionClass, Stream
from .asgi import PrivacyLogMiddleware

__version__ = "0.1.0"

__all__ = [
    "ExportSettings",
    "FieldRule",
    "Output",
    "Pipeline",
    "Policy",
    "PolicyError",
    "PrivacyLog",
    "PrivacyLogMiddleware",
    "RetentionClass",
    "Sink",
    "Stats",
    "Stream",
    "__version__",
    "compile_policy",
    "default_privlog",
    "log_auth_event",
]
