"""The Django app: registers the system checks of ``settings.PRIVLOG`` and connects the auth
signals. The PrivacyLog itself is built on the first request (or auth event), so management
commands (``check``, ``collectstatic``, ``migrate``) create no store and need no secret."""

from __future__ import annotations

from django.apps import AppConfig


class PrivlogConfig(AppConfig):
    """``INSTALLED_APPS = [..., "privlog.django"]``."""

    name = "privlog.django"
    label = "privlog"
    verbose_name = "privlog"

    def ready(self) -> None:
        # Imported here: the app registry must be ready before the auth signals are.
        from . import checks, signals  # noqa: F401 - importing registers the checks

        signals.connect()
