"""The Django app: validates ``settings.PRIVLOG`` at start-up and connects the auth signals."""

from __future__ import annotations

from django.apps import AppConfig


class PrivlogConfig(AppConfig):
    """``INSTALLED_APPS = [..., "privlog.django"]``."""

    name = "privlog.django"
    label = "privlog"
    verbose_name = "privlog"

    def ready(self) -> None:
        # Imported here: the app registry must be ready before the auth signals are.
        from . import conf, signals

        conf.shared()  # a wrong policy raises ImproperlyConfigured now, not on a request
        signals.connect()
