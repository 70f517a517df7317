"""The README's FastAPI pattern: a ``Depends`` dependency names the user, the middleware's
``user_id`` hook reads it from the request state after the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware

from ..support.policies import ENV, FULL
from ..support.sinks import ListSink, security

USERS = {"token-ada": 90817263, "token-bob": 4711}


def current_user(request: Request) -> int:
    """Stands in for the app's own authentication (a token, a session)."""
    user_id = USERS.get(request.headers.get("authorization", ""))
    if user_id is None:
        raise HTTPException(status_code=401)
    request.state.user_id = user_id  # what privlog records, pseudonymised
    return user_id


def user_from_state(scope: Any) -> Any:
    return scope.get("state", {}).get("user_id")


def make_app(privlog: PrivacyLog) -> FastAPI:
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, privlog=privlog, user_id=user_from_state)

    @app.get("/me")
    def me(user_id: Annotated[int, Depends(current_user)]) -> dict[str, int]:
        return {"id": user_id}

    @app.get("/public")
    def public() -> str:
        return "hello"

    return app


def test_the_dependency_names_the_user_of_each_request(sink: ListSink) -> None:
    privlog = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink])
    with TestClient(make_app(privlog)) as client:
        for token in ("token-ada", "token-ada", "token-bob"):
            assert client.get("/me", headers={"authorization": token}).status_code == 200
        client.get("/public")
        client.get("/me")  # 401: no user
    ada, ada_again, bob, public, refused = security(sink, privlog)
    assert ada["user.id"] == ada_again["user.id"] != bob["user.id"]
    assert "90817263" not in str(ada)  # pseudonymised, never raw
    assert "4711" not in str(bob)
    assert "user.id" not in public
    assert "user.id" not in refused
    assert refused["http.response.status_code"] == 401
    privlog.close()
