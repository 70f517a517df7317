"""The one :class:`PrivacyLog` a Django project shares, built from ``settings.PRIVLOG``.

Built on first use (the first request or auth event), never by a management command:
``manage.py check`` reports a wrong policy through the system checks (``checks.py``). If it
cannot be built, that is logged once as an error naming the setting and requests are served
unlogged. Rebuilt when a test overrides ``PRIVLOG``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from .._adapter import policy_from_setting
from .._errors import PolicyError, PrivlogError
from .._logging.servers import ServerLogs, server_logs_mode
from .._logging.servers import wire as wire_server_logs
from .._policy.model import Policy
from .._privacylog import PrivacyLog

SETTING = "PRIVLOG"
SERVER_LOGS_SETTING = "PRIVLOG_SERVER_LOGS"
_NAME = f"settings.{SETTING}"


class Shared(NamedTuple):
    """The project's privlog and what the request path needs to know about its policy."""

    privlog: PrivacyLog
    http: bool
    wants_user: bool
    owned: bool  # built here from a dict or path, so closed here when replaced


_shared: Shared | None = None
_broken: ImproperlyConfigured | None = None  # why it could not be built, until settings change
_lock = threading.Lock()
log = logging.getLogger("privlog")


def check(value: Any) -> Policy:
    """Validate a ``PRIVLOG`` value; raise ``ImproperlyConfigured`` naming the faulty key."""
    try:
        return policy_from_setting(value, _NAME)
    except PolicyError as err:
        raise ImproperlyConfigured(str(err)) from None


def build(value: Any) -> PrivacyLog:
    """A :class:`PrivacyLog` from a ``PRIVLOG`` value, or ``ImproperlyConfigured``."""
    if isinstance(value, PrivacyLog):
        return value
    policy = check(value)
    try:
        return PrivacyLog(policy)
    except PrivlogError as err:  # a key store, a database, an OTEL_* variable
        raise ImproperlyConfigured(str(err)) from None


def shared() -> Shared:
    """The project's privlog, built from settings on first use."""
    global _shared, _broken
    current = _shared
    if current is not None:
        return current
    with _lock:
        if _broken is not None:
            raise _broken
        if _shared is None:
            value = getattr(settings, SETTING, None)
            try:
                logs = _server_logs(getattr(settings, SERVER_LOGS_SETTING, "rewrite"))
                privlog = build(value)
            except ImproperlyConfigured as exc:
                _broken = exc
                log.error("privlog: requests are served but not logged: %s", exc)
                raise
            wire_server_logs(privlog, logs)
            _shared = Shared(
                privlog,
                "http" in privlog.kinds,
                privlog.records("user_id"),
                owned=not isinstance(value, PrivacyLog),
            )
        return _shared


def _server_logs(value: Any) -> ServerLogs:
    """``settings.PRIVLOG_SERVER_LOGS``: how runserver's and Django's request loggers are
    filtered (``"rewrite"``, ``"drop"`` or ``False``)."""
    try:
        return server_logs_mode(value, f"settings.{SERVER_LOGS_SETTING}")
    except PolicyError as err:
        raise ImproperlyConfigured(str(err)) from None


def get_privlog() -> PrivacyLog:
    """The project's :class:`PrivacyLog` (e.g. to call ``auth_event`` yourself)."""
    return shared().privlog


def _reset(*, setting: str, **kwargs: Any) -> None:
    global _shared, _broken
    if setting not in (SETTING, SERVER_LOGS_SETTING):
        return
    with _lock:
        old, _shared, _broken = _shared, None, None
    if old is not None and old.owned:
        old.privlog.close()


setting_changed.connect(_reset, dispatch_uid="privlog.django.conf.reset")
