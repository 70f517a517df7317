"""The public surface is exactly what the README documents."""

import privlog


def test_all_is_the_documented_api() -> None:
    assert set(privlog.__all__) == {
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
    }
    for name in privlog.__all__:
        assert getattr(privlog, name) is not None
