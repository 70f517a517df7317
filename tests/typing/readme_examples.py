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


def fastapi_depends_user_id(privlog: PrivacyLog) -> FastAPI:
    from typing import Annotated

    from fastapi import Depends, Request

    class User:
        id = 4711

    def authenticate(request: Request) -> User:
        return User()

    def current_user(request: Request) -> User:
        user = authenticate(request)
        request.state.user_id = user.id
        return user

    app = FastAPI()
    app.add_middleware(
        PrivacyLogMiddleware, privlog=privlog, user_id=lambda scope: scope.get("state", {}).get("user_id")
    )

    @app.get("/me")
    def me(user: Annotated[User, Depends(current_user)]) -> dict[str, int]:
        return {"id": user.id}

    return app
