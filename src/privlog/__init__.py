"""privlog: request logs that keep the promises of your privacy policy.

Fields are captured from an allow-list, transformed (truncated or keyed-hashed IPs,
pseudonymised ids, generalised user agents), tagged with their retention class, and shipped
through OpenTelemetry or into a local JSONL store that deletes what has expired.
"""

# The public names are imported when first used (PEP 562), not with the package: every
# ``privlog.*`` import runs this file first, and the ``privlog`` command (``privlog anonymize``
# in a pipe, say) should not pay a tenth of a second for the middleware it does not run.
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError, PolicyError, PrivlogError, UsageError
from ._version import __version__

if TYPE_CHECKING:
    from ._core.dispatcher import Sink, SinkStats, Stats
    from ._core.pipeline import Pipeline
    from ._core.record import Output
    from ._policy.model import Policy
    from ._policy.types import ExportSettings, FieldRule, RetentionClass, Stream
    from ._privacylog import PrivacyLog
    from .asgi import PrivacyLogMiddleware, current_privlog, log_auth_event

_WHERE = {
    "Sink": "._core.dispatcher",
    "SinkStats": "._core.dispatcher",
    "Stats": "._core.dispatcher",
    "Pipeline": "._core.pipeline",
    "Output": "._core.record",
    "Policy": "._policy.model",
    "ExportSettings": "._policy.types",
    "FieldRule": "._policy.types",
    "RetentionClass": "._policy.types",
    "Stream": "._policy.types",
    "PrivacyLog": "._privacylog",
    "PrivacyLogMiddleware": ".asgi",
    "current_privlog": ".asgi",
    "log_auth_event": ".asgi",
}


#: Public submodules, which ``import privlog`` used to load (``privlog.asgi``) and still gives.
_SUBMODULES = frozenset({"asgi", "clickhouse", "django", "flask", "gunicorn", "logging", "sinks", "structlog", "testing", "wsgi"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)  # the import sets it on the package too
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(where, __name__), name)
    globals()[name] = value  # found once: later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
