"""The FastAPI app the demo (and the end-to-end tests) run: users, search, login, a WebSocket."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from .._privacylog import PrivacyLog
from ..asgi import PrivacyLogMiddleware, log_auth_event

#: Bearer tokens the demo accepts, and whose user they are.
TOKENS = {"tok-alice-7f3a9c2e1b": "alice@example.com", "tok-bob-0d4e5f6a7b": "bob@example.org"}
PASSWORDS = {"alice@example.com": "correct horse", "bob@example.org": "battery staple"}


class _DemoUser(SimpleUser):
    @property
    def identity(self) -> str:
        return self.username


class BearerAuth(AuthenticationBackend):
    """Demo authentication: ``Authorization: Bearer <token>`` sets ``scope["user"]``."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        auth = conn.headers.get("authorization", "")
        user = TOKENS.get(auth.removeprefix("Bearer ").strip())
        if user is None:
            return None
        return AuthCredentials(["authenticated"]), _DemoUser(user)


def create_app(privlog: PrivacyLog) -> FastAPI:
    """A small app with the routes a real service has, logged through ``privlog``."""
    app = FastAPI(
        middleware=[
            Middleware(PrivacyLogMiddleware, privlog=privlog),
            Middleware(AuthenticationMiddleware, backend=BearerAuth()),
        ]
    )

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "someone"}

    @app.get("/search")
    async def search(q: str = "", page: int = 1) -> dict[str, Any]:
        return {"q_length": len(q), "page": page, "results": []}

    @app.post("/login")
    async def login(request: Request) -> JSONResponse:
        form = await request.json()
        email = str(form.get("email", ""))
        if PASSWORDS.get(email) == form.get("password"):
            log_auth_event("login_success", user_id=email, request=request)
            return JSONResponse({"ok": True})
        log_auth_event("login_failure", user_id=email, request=request)
        return JSONResponse({"ok": False}, status_code=401)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the app failed")

    @app.websocket("/ws/chat")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                await websocket.send_text(f"echo: {text}")
        except WebSocketDisconnect:
            return

    return app
