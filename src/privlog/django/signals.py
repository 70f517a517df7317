"""Django's auth signals as privlog auth events: login_success, logout, login_failure.

The user id is the user's primary key (pseudonymised or hashed as the policy says). A failed
login has no user: the username that was tried is resolved to its account's primary key when
the account exists, so attempts on an account get the same pseudonym as its logins and a
brute-force run can be linked to the account it hit; a username without an account stays the
username. The lookup is the one Django's own ``ModelBackend`` has just made (``get_by_natural_key``,
one indexed query whether or not the account exists), so it tells a timing observer nothing
Django's authentication did not. A receiver never raises.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from . import conf
from ._source import read_django, request_source

log = logging.getLogger("privlog")


def connect() -> None:
    """Connect the receivers (idempotent: each has a dispatch_uid)."""
    user_logged_in.connect(_logged_in, dispatch_uid="privlog.login_success")
    user_logged_out.connect(_logged_out, dispatch_uid="privlog.logout")
    user_login_failed.connect(_login_failed, dispatch_uid="privlog.login_failure")


def _logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    _event("login_success", request, getattr(user, "pk", None))


def _logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    _event("logout", request, getattr(user, "pk", None))


def _login_failed(sender: Any, credentials: Any = None, request: Any = None, **kwargs: Any) -> None:
    username = None
    if isinstance(credentials, dict):
        field = getattr(get_user_model(), "USERNAME_FIELD", "username")
        username = credentials.get("username", credentials.get(field))
    if not isinstance(username, (str, int)):
        _event("login_failure", request, None)
        return
    try:
        key = _account_key(username)
    except Exception:  # privlog not built (logged once): the event is not recorded anyway
        key = username
    _event("login_failure", request, key)


def _account_key(username: str | int) -> str | int:
    """The primary key of the account ``username`` names, or the username when there is none."""
    if not conf.shared().wants_user:
        return username  # the policy records no user id: no query
    model = get_user_model()
    try:
        user = model._default_manager.get_by_natural_key(username)
    except model.DoesNotExist:
        return username
    except Exception as exc:  # a database error must not turn into a failed request
        log.warning("privlog: could not look up the account of a failed login (%s)", type(exc).__name__)
        return username
    pk = getattr(user, "pk", None)
    return username if pk is None else pk


def _event(event: str, request: Any, user_id: Any) -> None:
    try:
        privlog = conf.get_privlog()
        source = request_source(request) if request is not None else None
        privlog.auth_event(
            event,
            user_id=None if user_id is None else str(user_id),
            source=source,
            reader=read_django if source is not None else None,
        )
    except Exception as exc:
        log.warning("privlog: could not record the %s event (%s)", event, type(exc).__name__)
