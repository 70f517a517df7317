"""The README's code, type-checked by mypy (strict) in CI: what users copy must stay valid."""

from __future__ import annotations

from fastapi import FastAPI
from flask import Flask

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware, Stats, log_auth_event
from privlog.flask import PrivacyLogExtension
from privlog.wsgi import PrivacyLogMiddleware as WsgiPrivacyLogMiddleware


def fastapi_quick_start() -> FastAPI:
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, policy=Policy.from_toml("privlog.toml"))
    return app


def shared_privlog() -> Stats:
    privlog = PrivacyLog(Policy.from_toml("privlog.toml"))
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, privlog=privlog, user_id=lambda scope: scope.get("user_id"))
    log_auth_event("login_failure", user_id=4711, request=None)
    return privlog.stats()


def flask_app() -> Flask:
    app = Flask(__name__)
    app.config["PRIVLOG"] = "privlog.toml"
    privlog = PrivacyLogExtension(app)
    privlog.auth_event("login_success", user_id="4711")
    app.wsgi_app = WsgiPrivacyLogMiddleware(app.wsgi_app, Policy.from_toml("privlog.toml"))  # type: ignore[method-assign]
    return app
