"""Flask extension: the WSGI middleware plus what only Flask knows (route rule, logged-in user).

``PrivacyLogExtension(app)`` or, with an application factory, ``privlog_ext = PrivacyLogExtension()`` then
``privlog_ext.init_app(app)``. The policy comes from ``policy=``/``privlog=`` or from
``app.config["PRIVLOG"]`` (a dict with the TOML schema, or the path of a TOML file).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context, request, session

from ._adapter import privlog_from_setting
from ._errors import UsageError
from ._logging.servers import ServerLogs, server_logs_mode
from ._logging.servers import wire as wire_server_logs
from ._policy.model import Policy
from ._privacylog import PrivacyLog
from .wsgi import ROUTE_KEY, USER_KEY, PrivacyLogMiddleware, read_wsgi_environ

FlaskUserHook = Callable[[], "str | int | None"]
"""Called in the request context when the request ends; returns the user id or None."""

CONFIG_KEY = "PRIVLOG"
SERVER_LOGS_KEY = "PRIVLOG_SERVER_LOGS"
log = logging.getLogger("privlog")


def flask_login_user() -> str | None:
    """The id of Flask-Login's logged-in user, else None, without loading the user.

    A user the request already loaded (``current_user`` read by the view or by
    ``login_required``) gives ``get_id()``; otherwise the id Flask-Login keeps in the session
    is used (as claimed: session protection does not re-check it), so a view that never
    touched ``current_user`` costs no user-loader call. A user that only a remember-me cookie
    or a request loader would have loaded is not recorded unless the view loaded it.
    """
    if getattr(current_app, "login_manager", None) is None:
        return None
    if "_login_user" in g:  # where Flask-Login keeps the user it loaded for this request
        user = g._login_user
        if user is None or not user.is_authenticated:
            return None
        value = user.get_id()
    else:
        value = session.get("_user_id")
    return None if value is None else str(value)


class PrivacyLogExtension:
    """Logs a Flask app's requests through a privacy policy.

    ``user_id=`` is a hook called in the request context as the request ends (default:
    Flask-Login's logged-in user, when Flask-Login is installed). Its value is pseudonymised
    or hashed as the policy says; it is read only if the policy records ``user_id``.

    ``server_logs=`` (or ``app.config["PRIVLOG_SERVER_LOGS"]``): the server's loggers
    (werkzeug's, gunicorn's, waitress's) and the app's logger, where Flask logs
    ``Exception on /path``, are filtered so that access lines say only what privlog's record
    says (``"rewrite"``, the default), or access lines go (``"drop"``); ``False`` leaves them.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        policy: Policy | None = None,
        privlog: PrivacyLog | None = None,
        user_id: FlaskUserHook | None = None,
        server_logs: ServerLogs | bool | None = None,
    ) -> None:
        self._policy = policy
        self._privlog = privlog
        self._user_hook = user_id
        self._server_logs = server_logs
        #: The PrivacyLog of the app most recently initialised.
        self.privlog: PrivacyLog | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Wrap ``app.wsgi_app`` and register the hook that records route and user."""
        chosen = self._server_logs
        if chosen is None:
            chosen = app.config.get(SERVER_LOGS_KEY, "rewrite")
            setting = f"app.config[{SERVER_LOGS_KEY!r}]"
        else:
            setting = "PrivacyLogExtension(server_logs=...)"
        logs = server_logs_mode(chosen, setting)
        if self._privlog is not None:
            privlog = self._privlog
        elif self._policy is not None:
            privlog = PrivacyLog(self._policy)
        else:
            privlog = privlog_from_setting(app.config.get(CONFIG_KEY), f"app.config[{CONFIG_KEY!r}]")
        self.privlog = privlog
        app.extensions["privlog"] = privlog
        app.wsgi_app = PrivacyLogMiddleware(app.wsgi_app, privlog=privlog, server_logs=False)  # type: ignore[method-assign]
        wire_server_logs(privlog, logs, extra=(app.name,))  # app.logger: "Exception on /path"
        hook = self._user_hook
        if hook is None and importlib.util.find_spec("flask_login") is not None:
            hook = flask_login_user
        app.teardown_request(_recorder(hook if privlog.records("user_id") else None))

    def auth_event(self, event: str, *, user_id: str | int | None = None) -> None:
        """Log ``login_success``, ``login_failure``, ``logout``, ``password_reset`` or
        ``password_change``; the client address is that of the current request, if any."""
        privlog = self.privlog
        if has_app_context():
            privlog = current_app.extensions.get("privlog", privlog)
        if privlog is None:
            raise UsageError("PrivacyLogExtension", "is not bound to an app", "call init_app(app) first")
        environ = None
        if has_request_context():
            # A copy: uWSGI empties and reuses the environ once the request ends, and the worker
            # reads it later. The route is known now; the teardown hook sets it too late for this.
            environ = dict(request.environ)
            rule = request.url_rule
            if rule is not None:
                environ[ROUTE_KEY] = rule.rule
        privlog.auth_event(
            event,
            user_id=user_id,
            source=environ,
            reader=read_wsgi_environ if environ is not None else None,
        )


def _recorder(user_hook: FlaskUserHook | None) -> Callable[[BaseException | None], None]:
    """A teardown hook putting the route rule and user id into the environ for the middleware.

    Teardown runs inside the request context for every request, failed ones included, before
    the middleware finishes the record; it must never raise.
    """

    def record_route_and_user(exc: BaseException | None) -> None:
        try:
            environ: dict[str, Any] = request.environ
            rule = request.url_rule
            if rule is not None:
                environ[ROUTE_KEY] = rule.rule
            if user_hook is not None:
                value = user_hook()
                if value is not None:
                    environ[USER_KEY] = str(value)
        except Exception as err:
            log.warning("privlog: could not read the route or user (%s)", type(err).__name__)

    return record_route_and_user
