"""privlog: request logs that keep the promises of your privacy policy.

Fields are captured from an allow-list, transformed (truncated or keyed-hashed IPs,
pseudonymised ids, generalised user agents), tagged with their retention class, and shipped
through OpenTelemetry or into a local JSONL store that deletes what has expired.
"""

from ._core.dispatcher import Sink, Stats
from ._core.pipeline import Output, Pipeline, compile_policy
from ._errors import PolicyError
from ._policy.model import Policy
from ._policy.types import ExportSettings, FieldRule, RetentionClass, Stream
from ._privacylog import PrivacyLog, default_privlog, log_auth_event
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
