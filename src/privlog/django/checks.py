"""``settings.PRIVLOG`` through Django's system-check framework: ``manage.py check`` lists
each problem with an id, as Django's own checks and django-axes do.

The checks validate the policy only: they build no pipeline, create no store folder and need
no secret (a keyed policy whose secret is not set here gets a warning, not an error), so a
Docker build's ``collectstatic`` or ``check`` runs without ``PRIVLOG_SECRET``.

- ``privlog.E001``: the policy is invalid (the message names the setting, the hint the fix).
- ``privlog.E002``: something the policy relies on is missing or wrong (key store, database).
- ``privlog.W001``: the policy needs a secret that is not set in this environment.
- ``privlog.W002``: the middleware is not in ``MIDDLEWARE`` (nothing would be logged), or not
  first (responses from middleware above it are not logged).
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from .._adapter import policy_from_setting
from .._errors import PolicyError, PrivlogError
from .._privacylog import PrivacyLog

MIDDLEWARE = "privlog.django.middleware.PrivacyLogMiddleware"
_PLACEHOLDER = "privlog system check: validation only, nothing is hashed"


@register()
def check_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate ``settings.PRIVLOG`` as start-up would, without building anything."""
    value = getattr(settings, "PRIVLOG", None)
    if isinstance(value, PrivacyLog):
        return []
    try:
        policy_from_setting(value, "settings.PRIVLOG")
    except PolicyError as err:
        if "['secret']['env']" in err.setting and "is not set" in err.problem:
            return _without_secret(value, err)
        return [Error(f"{err.setting}: {err.problem}", hint=err.fix, id="privlog.E001")]
    except PrivlogError as err:
        return [Error(f"{err.setting}: {err.problem}", hint=err.fix, id="privlog.E002")]
    return []


def _without_secret(value: Any, missing: PolicyError) -> list[CheckMessage]:
    """The secret is not here (a build step): warn, and validate the rest with a placeholder."""
    var = missing.setting.rpartition("(")[2].rstrip(")") or "PRIVLOG_SECRET"
    environ = {**os.environ, var: _PLACEHOLDER}
    messages: list[CheckMessage] = [
        Warning(
            f"{missing.setting}: {missing.problem}",
            hint=f"{missing.fix}; the app logs nothing until it is set where it runs",
            id="privlog.W001",
        )
    ]
    try:
        from .._policy.model import Policy

        if isinstance(value, Policy):
            return messages
        if isinstance(value, dict):
            Policy.from_dict(value, environ=environ)
        else:
            Policy.from_toml(os.fspath(value), environ=environ)
    except PolicyError as err:
        messages.append(Error(f"{err.setting}: {err.problem}", hint=err.fix, id="privlog.E001"))
    except PrivlogError as err:
        messages.append(Error(f"{err.setting}: {err.problem}", hint=err.fix, id="privlog.E002"))
    return messages


@register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE not in middleware:
        return [
            Warning(
                "privlog's middleware is not in MIDDLEWARE: no request is logged",
                hint=f'add "{MIDDLEWARE}" at the top of MIDDLEWARE',
                id="privlog.W002",
            )
        ]
    if middleware[0] != MIDDLEWARE:
        return [
            Warning(
                "privlog's middleware is not first in MIDDLEWARE: responses that middleware above it "
                "returns or changes are not logged as sent",
                hint=f'move "{MIDDLEWARE}" to the top of MIDDLEWARE',
                id="privlog.W002",
            )
        ]
    return []
