"""The Django app: registers the system checks of ``settings.PRIVLOG``, connects the auth
signals and puts privlog's SIGTERM handler in place. The PrivacyLog itself is built on the first
request (or auth event), so management commands (``check``, ``collectstatic``, ``migrate``)
create no store and need no secret."""

from __future__ import annotations

from django.apps import AppConfig

from .._core import shutdown


class PrivlogConfig(AppConfig):
    """``INSTALLED_APPS = [..., "privlog.django"]``."""

    name = "privlog.django"
    label = "privlog"
    verbose_name = "privlog"

    def ready(self) -> None:
        # Imported here: the app registry must be ready before the auth signals are.
        from . import checks, signals  # noqa: F401 - importing registers the checks

        signals.connect()
        # The first request may come on a server's thread (waitress, gunicorn's gthread), where
        # Python cannot set a signal handler; Django starts up on the main thread, where it can.
        shutdown.arm()
