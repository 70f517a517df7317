"""The ASGI middleware through Starlette/FastAPI's test client."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware, UsageError, current_privlog, log_auth_event
from privlog.asgi import user_from_scope

from ..support.policies import ENV, FULL
from ..support.sinks import ListSink, security


def fastapi_app(privlog: PrivacyLog, **kw: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(PrivacyLogMiddleware, privlog=privlog, **kw)

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @app.post("/upload")
    async def upload(body: dict[str, Any]) -> dict[str, int]:
        return {"n": len(body)}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("app bug")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        for _ in range(2):
            text = await websocket.receive_text()
            await websocket.send_text(text.upper())
        await websocket.close(code=1000)

    return app


def client(app: Any, host: str = "127.0.0.1") -> TestClient:
    return TestClient(app, client=(host, 40000), raise_server_exceptions=True)


class TestHttp:
    def test_records_route_template_status_and_bytes(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with client(fastapi_app(privlog)) as c:
            r = c.get("/users/90817263?page=2&token=s3cr3t", headers={"x-forwarded-for": "198.51.100.77"})
        (rec,) = security(sink, privlog)
        assert rec["http.route"] == "/users/{user_id}"
        assert rec["http.response.status_code"] == 200
        assert rec["http.response.body.size"] == len(r.content)
        assert "90817263" not in str(rec)

    def test_request_bytes_are_counted(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with client(fastapi_app(privlog)) as c:
            c.post("/upload", json={"a": 1, "b": 2})
        (rec,) = security(sink, privlog)
        assert rec["http.request.body.size"] == len(b'{"a":1,"b":2}')

    def test_app_error_is_recorded_as_500_and_re_raised(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with client(fastapi_app(privlog)) as c, pytest.raises(RuntimeError, match="app bug"):
            c.get("/boom")
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 500

    def test_404_path_is_scrubbed(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with client(fastapi_app(privlog)) as c:
            c.get("/reset/jane@example.net/77")
        (rec,) = security(sink, privlog)
        assert rec["url.path"] == "/reset/{email}/{id}"
        assert "http.route" not in rec

    def test_scope_is_not_modified_and_no_state_is_kept_on_the_middleware(self, privlog: PrivacyLog) -> None:
        seen: list[dict[str, Any]] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            seen.append(copy.copy(scope))
            await PlainTextResponse("ok")(scope, receive, send)

        mw = PrivacyLogMiddleware(app, privlog=privlog)
        before = dict(vars(mw))
        client(mw).get("/x")  # no `with`: this bare app has no lifespan support
        assert set(seen[0]) >= {"type", "path", "headers"}
        assert not any(k.startswith("privlog") for k in seen[0])
        assert vars(mw) == before

    def test_mounted_app_route_includes_the_mount(self, privlog: PrivacyLog, sink: ListSink) -> None:
        inner = Starlette(routes=[Route("/items/{item_id}", lambda r: PlainTextResponse("ok"))])
        app = Starlette(routes=[Mount("/shop", app=inner)])
        with client(PrivacyLogMiddleware(app, privlog=privlog)) as c:
            c.get("/shop/items/9")
        (rec,) = security(sink, privlog)
        assert rec["http.route"] == "/shop/items/{item_id}"


class TestUsers:
    def test_user_from_scope_user_is_pseudonymised(self, privlog: PrivacyLog, sink: ListSink) -> None:
        class User:
            is_authenticated = True
            identity = "alice@example.com"

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope["user"] = User()  # what AuthenticationMiddleware does
            await PlainTextResponse("ok")(scope, receive, send)

        client(PrivacyLogMiddleware(app, privlog=privlog)).get("/")
        (rec,) = security(sink, privlog)
        assert rec["user.id"]
        assert "alice" not in rec["user.id"]

    def test_a_broken_user_hook_does_not_break_the_request(self, privlog: PrivacyLog, sink: ListSink) -> None:
        def hook(scope: Any) -> str:
            raise ValueError("bug in user code")

        with client(fastapi_app(privlog, user_id=hook)) as c:
            assert c.get("/users/1").status_code == 200
        (rec,) = security(sink, privlog)
        assert "user.id" not in rec

    def test_user_from_scope_ignores_anonymous_users(self) -> None:
        class Anon:
            is_authenticated = False

        assert user_from_scope({"user": Anon()}) is None
        assert user_from_scope({}) is None


class TestWebSocket:
    def test_one_record_per_session_with_counts(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with client(fastapi_app(privlog)) as c, c.websocket_connect("/ws") as ws:
            for word in ("hello", "world!"):
                ws.send_text(word)
                ws.receive_text()
        (rec,) = security(sink, privlog)
        assert rec["event.name"] == "websocket.session"
        assert rec["privlog.websocket.messages_in"] == 2
        assert rec["privlog.websocket.messages_out"] == 2
        assert rec["privlog.websocket.bytes_in"] == 11
        assert rec["privlog.websocket.close_code"] == 1000
        assert rec["http.response.status_code"] == 101
        assert rec["privlog.session.start"] <= rec["privlog.session.end"]


class TestLifecycle:
    def test_lifespan_shutdown_flushes(self, sink: ListSink) -> None:
        data = copy.deepcopy(FULL)
        pl = PrivacyLog(
            Policy.from_dict({**data, "export": {"flush_interval": 3600}}, environ=ENV), sinks=[sink]
        )
        with client(fastapi_app(pl)) as c:
            c.get("/users/1")
            assert sink.records == []  # still queued: the worker sleeps an hour
        assert len(sink.records) == 2  # security + analytics, exported at shutdown
        pl.close()

    def test_no_policy_fails_at_start_up(self) -> None:
        with pytest.raises(UsageError, match="PrivacyLogMiddleware needs a policy"):
            PrivacyLogMiddleware(FastAPI())

    def test_policy_argument_builds_its_own_privlog(self, tmp_path: Any) -> None:
        mw = PrivacyLogMiddleware(FastAPI(), policy=Policy.from_dict(FULL, environ=ENV), directory=tmp_path)
        assert type(mw.privlog.sinks[0]).__name__ == "JsonlStore"
        mw.privlog.close()

    def test_a_full_queue_never_blocks_the_app(self, sink: ListSink) -> None:
        data = {**copy.deepcopy(FULL), "export": {"queue_size": 1, "flush_interval": 3600}}
        pl = PrivacyLog(Policy.from_dict(data, environ=ENV), sinks=[sink])
        with client(fastapi_app(pl)) as c:
            for _ in range(5):
                assert c.get("/users/1").status_code == 200
            assert pl.stats().dropped == 4
        pl.close()


class TestRobustness:
    def test_a_user_id_whose_str_raises_does_not_break_the_request(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        class Weird:
            def __str__(self) -> str:
                raise RuntimeError("ORM object detached")

        with client(fastapi_app(privlog, user_id=lambda scope: Weird())) as c:
            assert c.get("/users/1").status_code == 200
        (rec,) = security(sink, privlog)
        assert "user.id" not in rec

    def test_duration_ends_with_the_response_not_background_tasks(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        import time

        from starlette.background import BackgroundTask

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await PlainTextResponse("ok", background=BackgroundTask(time.sleep, 0.3))(scope, receive, send)

        client(PrivacyLogMiddleware(app, privlog=privlog)).get("/")
        (rec,) = security(sink, privlog)
        assert rec["http.server.request.duration"] < 0.25


class TestMounts:
    def _route(self, privlog: PrivacyLog, sink: ListSink, app: Any, path: str) -> dict[str, Any]:
        client(PrivacyLogMiddleware(app, privlog=privlog)).get(path)
        (rec,) = security(sink, privlog)
        return rec

    def test_a_parameter_in_the_mount_path_never_leaks(self, privlog: PrivacyLog, sink: ListSink) -> None:
        inner = Starlette(routes=[Route("/users/{uid}", lambda r: PlainTextResponse("ok"))])
        app = Starlette(routes=[Mount("/api/{tenant}", app=inner)])
        rec = self._route(privlog, sink, app, "/api/jane.smith/users/90817263")
        assert rec["http.route"] == "/api/{tenant}/users/{uid}"
        assert "jane" not in str(rec)

    def test_a_mounted_plain_asgi_app_is_not_prefixed_twice(
        self, privlog: PrivacyLog, sink: ListSink, tmp_path: Any
    ) -> None:
        from starlette.staticfiles import StaticFiles

        (tmp_path / "a.txt").write_text("hi")
        app = Starlette(routes=[Mount("/static", app=StaticFiles(directory=tmp_path))])
        assert self._route(privlog, sink, app, "/static/a.txt")["http.route"] == "/static/{path}"

    def test_nested_mounts(self, privlog: PrivacyLog, sink: ListSink) -> None:
        inner = Starlette(routes=[Route("/items/{item_id}", lambda r: PlainTextResponse("ok"))])
        middle = Starlette(routes=[Mount("/v1", app=inner)])
        app = Starlette(routes=[Mount("/shop/{shop}", app=middle)])
        assert (
            self._route(privlog, sink, app, "/shop/acme-bakery/v1/items/9")["http.route"]
            == "/shop/{shop}/v1/items/{item_id}"
        )


class TestAuthEventBinding:
    """An auth event goes to the privlog of the app that serves the request, never to whichever
    PrivacyLog was created last."""

    @staticmethod
    def login_app(privlog: PrivacyLog) -> FastAPI:
        app = FastAPI()
        app.add_middleware(PrivacyLogMiddleware, privlog=privlog)

        @app.post("/login")
        async def login() -> dict[str, bool]:
            log_auth_event("login_failure", user_id="mallory")
            return {"ok": False}

        return app

    def test_two_apps_in_one_process_keep_their_own_auth_events(self) -> None:
        sinks = [ListSink(), ListSink()]
        logs = [PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[s]) for s in sinks]
        try:
            with TestClient(self.login_app(logs[0])) as first:
                first.post("/login")
            with TestClient(self.login_app(logs[1])) as second:
                second.post("/login")
                second.post("/login")
            counts = []
            for log, sink in zip(logs, sinks):
                log.flush()
                counts.append(sum(r["event.name"] == "auth.login_failure" for r in sink.stream("security")))
            assert counts == [1, 2]
        finally:
            for log in logs:
                log.close()

    def test_an_auth_event_in_a_mounted_app_has_the_route_of_its_request(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        # A mounted application sets scope["app"] to itself, and only the top router knows the
        # mount's template: the event is read as the middleware reads its request, not with
        # the placeholder ("/{mount}/login/{step}") the scope alone gives.
        async def login(request: Request) -> PlainTextResponse:
            log_auth_event("login_failure", user_id="mallory", request=request)
            return PlainTextResponse("no")

        tenant_app = Starlette(routes=[Route("/login/{step}", login, methods=["POST"])])  # a sub-application
        app = Starlette(routes=[Mount("/api/{tenant}", app=tenant_app)])
        with TestClient(PrivacyLogMiddleware(app, privlog=privlog)) as c:
            c.post("/api/acme/login/2")
        routes = {r["event.name"]: r.get("http.route") for r in security(sink, privlog)}
        assert routes["auth.login_failure"] == routes["http.request"] == "/api/{tenant}/login/{step}"

    def test_outside_a_request_the_privlog_must_be_named(self, privlog: PrivacyLog, sink: ListSink) -> None:
        assert current_privlog() is None
        with pytest.raises(UsageError, match="no privlog serves this request"):
            log_auth_event("logout", user_id=1)
        log_auth_event("logout", user_id=1, privlog=privlog)
        assert [r["event.name"] for r in security(sink, privlog)] == ["auth.logout"]
