"""The Flask extension through Flask's test client and through a real WSGI server (waitress)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from flask import Flask, Response, abort, stream_with_context
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from privlog import Policy, PolicyError, PrivacyLog, UsageError
from privlog.flask import PrivacyLogExtension

from ..support.policies import ENV, FULL, policy_dict
from ..support.sinks import ListSink, security
from ..support.wsgi_server import serve

EXAMPLES = Path(__file__).parents[2] / "examples"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"


class User(UserMixin):
    def __init__(self, uid: str) -> None:
        self.id = uid


def make_app(ext: PrivacyLogExtension | None = None, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-only", TESTING=True, **config)
    login = LoginManager(app)
    login.user_loader(User)
    privlog_ext = ext or PrivacyLogExtension()
    privlog_ext.init_app(app)

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @app.post("/login")
    def do_login() -> str:
        login_user(User("90817263"))
        privlog_ext.auth_event("login_success", user_id="90817263")
        return "ok"

    @app.post("/logout")
    def do_logout() -> str:
        logout_user()
        return "bye"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("app bug")

    @app.get("/teapot")
    def teapot() -> str:
        abort(418)

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"a" * 10
            yield b"b" * 5

        return Response(stream_with_context(chunks()))

    return app


def get(app: Flask, url: str, **kw: Any) -> bytes:
    """A test-client request, closed like a server closes it (which finishes the record)."""
    headers = {"User-Agent": UA, "X-Forwarded-For": "198.51.100.77", **kw.pop("headers", {})}
    with app.test_client() as client, client.get(url, headers=headers, **kw) as response:
        return response.data


class TestRequests:
    def test_route_rule_status_and_bytes(self, privlog: PrivacyLog, sink: ListSink) -> None:
        body = get(make_app(PrivacyLogExtension(privlog=privlog)), "/users/90817263?page=2&token=s3cr3t")
        (rec,) = security(sink, privlog)
        assert rec["http.route"] == rec["url.path"] == "/users/<int:user_id>"
        assert rec["http.response.status_code"] == 200
        assert rec["http.response.body.size"] == len(body)
        assert rec["user_agent.name"] == "Firefox"

    def test_unrouted_path_is_scrubbed(self, privlog: PrivacyLog, sink: ListSink) -> None:
        get(make_app(PrivacyLogExtension(privlog=privlog)), "/nowhere/123456")
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 404
        assert rec["url.path"] == "/nowhere/{id}"
        assert "http.route" not in rec

    def test_http_error_status(self, privlog: PrivacyLog, sink: ListSink) -> None:
        get(make_app(PrivacyLogExtension(privlog=privlog)), "/teapot")
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 418
        assert rec["http.route"] == "/teapot"

    def test_exception_is_500_and_reraised(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with pytest.raises(RuntimeError, match="app bug"):
            get(make_app(PrivacyLogExtension(privlog=privlog)), "/boom")
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 500
        assert rec["http.route"] == "/boom"  # the teardown ran before the middleware finished

    def test_exception_handled_by_flask_is_500(self, privlog: PrivacyLog, sink: ListSink) -> None:
        app = make_app(PrivacyLogExtension(privlog=privlog))
        app.config["TESTING"] = False
        get(app, "/boom")
        (rec,) = security(sink, privlog)
        assert rec["http.response.status_code"] == 500

    def test_streamed_response_recorded_after_close(self, privlog: PrivacyLog, sink: ListSink) -> None:
        client = make_app(PrivacyLogExtension(privlog=privlog)).test_client()
        response = client.get("/stream")
        assert response.data == b"a" * 10 + b"b" * 5
        assert security(sink, privlog) == []
        response.close()
        (rec,) = security(sink, privlog)
        assert rec["http.response.body.size"] == 15
        assert rec["http.route"] == "/stream"


class TestUsers:
    def test_flask_login_user_is_pseudonymised(self, privlog: PrivacyLog, sink: ListSink) -> None:
        app = make_app(PrivacyLogExtension(privlog=privlog))
        with app.test_client() as client:
            client.post("/login").close()
            client.get("/users/1").close()
            client.post("/logout").close()
            client.get("/users/1").close()
        login_event, login_req, me, logout_req, anon = security(sink, privlog)
        assert login_event["event.name"] == "auth.login_success"
        assert login_event["user.id"] == login_req["user.id"] == me["user.id"]
        assert "user.id" not in anon
        assert "user.id" not in logout_req  # logged out during the request
        assert login_event["privlog.client.address"] == me["privlog.client.address"]
        assert "90817263" not in orjson.dumps([login_event, me]).decode()

    def test_user_loader_is_called_only_when_the_view_loads_the_user(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        app = make_app(PrivacyLogExtension(privlog=privlog))
        loads: list[str] = []

        def load(uid: str) -> User:
            loads.append(uid)
            return User(uid)

        app.login_manager.user_loader(load)  # type: ignore[attr-defined]

        @app.get("/me")
        def me() -> str:
            return str(current_user.get_id())

        with app.test_client() as client:
            client.post("/login").close()
            client.get("/users/1").close()
            assert loads == []  # neither the view nor privlog loaded the user
            client.get("/me").close()
            assert loads == ["90817263"]  # the view's own load, reused
        with app.test_client() as anon:
            anon.get("/users/1").close()
        login_event, _login_req, users, me_rec, anon_rec = security(sink, privlog)
        assert users["user.id"] == me_rec["user.id"] == login_event["user.id"]
        assert "user.id" not in anon_rec
        assert loads == ["90817263"]

    def test_custom_user_hook(self, privlog: PrivacyLog, sink: ListSink) -> None:
        get(make_app(PrivacyLogExtension(privlog=privlog, user_id=lambda: "alice@example.com")), "/users/1")
        (rec,) = security(sink, privlog)
        assert rec["user.id"]
        assert "alice" not in rec["user.id"]

    def test_user_hook_raising_does_not_break_the_app(self, privlog: PrivacyLog, sink: ListSink) -> None:
        def hook() -> str:
            raise LookupError("user store down")

        assert get(make_app(PrivacyLogExtension(privlog=privlog, user_id=hook)), "/users/1") == b'{"id":1}\n'
        (rec,) = security(sink, privlog)
        assert "user.id" not in rec
        assert rec["http.route"] == "/users/<int:user_id>"

    def test_user_hook_value_whose_str_raises(self, privlog: PrivacyLog, sink: ListSink) -> None:
        class Unprintable:
            def __str__(self) -> str:
                raise RuntimeError("no text for you")

        def hook() -> Any:
            return Unprintable()

        assert get(make_app(PrivacyLogExtension(privlog=privlog, user_id=hook)), "/users/1") == b'{"id":1}\n'
        (rec,) = security(sink, privlog)
        assert "user.id" not in rec
        assert rec["http.route"] == "/users/<int:user_id>"

    def test_auth_event_outside_a_request_has_no_client(self, privlog: PrivacyLog, sink: ListSink) -> None:
        ext = PrivacyLogExtension(privlog=privlog)
        make_app(ext)
        ext.auth_event("password_reset", user_id=90817263)
        (rec,) = security(sink, privlog)
        assert rec["event.name"] == "auth.password_reset"
        assert "client.address" not in rec

    def test_auth_event_before_init_app(self) -> None:
        with pytest.raises(UsageError, match="init_app"):
            PrivacyLogExtension().auth_event("logout")


class TestConfiguration:
    def test_policy_from_app_config_dict(self, monkeypatch: pytest.MonkeyPatch, sink: ListSink) -> None:
        monkeypatch.setenv("PRIVLOG_SECRET", ENV["PRIVLOG_SECRET"])
        ext = PrivacyLogExtension()
        app = make_app(ext, PRIVLOG=FULL)
        assert ext.privlog is app.extensions["privlog"]
        assert ext.privlog.policy.service == "test"
        ext.privlog.close()

    def test_policy_from_a_toml_path(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.chdir(tmp_path)
        app = make_app(PRIVLOG=str(EXAMPLES / "access-7-days.toml"))
        get(app, "/users/90817263")
        app.extensions["privlog"].close()
        (day,) = (tmp_path / "privlog-logs" / "access").glob("*.jsonl")
        rec = orjson.loads(day.read_bytes())
        assert rec["http.route"] == "/users/<int:user_id>"
        assert rec["client.address"] == "127.0.0.0"  # seed 002: the peer cut to /16; no proxy is trusted
        assert "90817263" not in day.read_text()

    def test_wrong_key_names_the_config_entry(self) -> None:
        with pytest.raises(PolicyError) as err:
            make_app(PRIVLOG=policy_dict(client_ipp="truncate"))
        assert err.value.setting == "app.config['PRIVLOG']['streams']['access']['fields']['client_ipp']"
        assert "did you mean 'client_ip'" in str(err.value)

    def test_missing_config(self) -> None:
        with pytest.raises(PolicyError, match=r"app.config\['PRIVLOG'\]: is not set"):
            make_app()

    def test_explicit_policy_and_factory_pattern(self, tmp_path: Path) -> None:
        ext = PrivacyLogExtension(policy=Policy.from_dict({**policy_dict(), "export": {"directory": str(tmp_path)}}))
        first, second = make_app(ext), make_app(ext)
        assert first.extensions["privlog"] is not second.extensions["privlog"]
        for app in (first, second):
            app.extensions["privlog"].close()


@pytest.mark.integration
def test_real_wsgi_server(privlog: PrivacyLog, sink: ListSink) -> None:
    app = make_app(PrivacyLogExtension(privlog=privlog))
    with serve(app) as base:
        r = httpx.get(f"{base}/users/90817263?page=2&token=s3cr3t", headers={"User-Agent": UA})
        s = httpx.get(f"{base}/stream")
        deadline = time.monotonic() + 5
        while len(security(sink, privlog)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the server closes the iterable just after sending it
    stream, user = sorted(security(sink, privlog), key=lambda rec: rec["url.path"])
    assert user["http.route"] == "/users/<int:user_id>"
    assert user["http.response.status_code"] == 200
    assert user["http.response.body.size"] == len(r.content)
    assert stream["http.response.body.size"] == len(s.content) == 15
    assert isinstance(user["client.port"], int)
    blob = orjson.dumps([rec.attributes for rec in sink.records]).decode()
    for secret in ("127.0.0.1", "90817263", "s3cr3t"):
        assert secret not in blob
