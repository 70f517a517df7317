"""The Django app and middleware: test client (WSGI), AsyncClient (ASGI) and a real WSGI server."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from asgiref.sync import sync_to_async
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import path
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog
from privlog.django import checks, conf

from ..support import django_site as site
from ..support.django_site import configure
from ..support.policies import ENV, FULL, policy_dict
from ..support.sinks import ListSink, security
from ..support.wsgi_server import serve

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
HEADERS = {"user-agent": UA, "x-forwarded-for": "198.51.100.77"}


def chunks(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(b"a" * 10)
    response.write(b"b" * 5)
    return response


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class OddUser:
    is_authenticated = True
    pk = Unprintable()


def odd_user(request: HttpRequest) -> HttpResponse:
    request.user = OddUser()  # type: ignore[assignment]  # as login() replaces it
    return HttpResponse("odd")


#: The test site's URLs plus a few for single tests (``override_settings(ROOT_URLCONF=__name__)``).
urlpatterns = [*site.urlpatterns, path("chunks/", chunks), path("odd-user/", odd_user)]


@pytest.fixture(scope="module", autouse=True)
def django_site(tmp_path_factory: pytest.TempPathFactory) -> None:
    configure(tmp_path_factory.mktemp("django"))


@pytest.fixture
def privlog(sink: ListSink) -> Iterator[PrivacyLog]:
    pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink])
    with override_settings(PRIVLOG=pl):
        yield pl
    pl.close()


def alice() -> Any:
    from django.contrib.auth.models import User  # needs the configured app registry

    return User.objects.get(pk=90817263)


def get(url: str, **kw: Any) -> Any:
    return Client(headers=HEADERS).get(url, **kw)


class TestWsgi:
    @pytest.mark.parametrize(
        ("url", "route"),
        [
            ("/users/90817263/?page=2&token=s3cr3t", "/users/<int:pk>/"),
            ("/api/v1/users/90817263/", "/api/v1/users/<int:pk>/"),
            ("/articles/2024/", "/articles/(?P<year>[0-9]{4})/"),
            ("/hello", "/hello"),
        ],
    )
    def test_route_template(self, privlog: PrivacyLog, sink: ListSink, url: str, route: str) -> None:
        response = get(url)
        (rec,) = security(sink, privlog)
        assert rec["http.route"] == rec["url.path"] == route
        assert rec["http.response.status_code"] == 200
        assert rec["http.response.body.size"] == len(response.content)
        assert rec["http.request.body.size"] == 0
        assert rec["network.protocol.version"] == "1.1"
        assert rec["user_agent.name"] == "Firefox"

    def test_unrouted_path_is_scrubbed(self, privlog: PrivacyLog, sink: ListSink) -> None:
        assert get("/nowhere/123456").status_code == 404
        (rec,) = security(sink, privlog)
        assert rec["url.path"] == "/nowhere/{id}"
        assert "http.route" not in rec

    def test_exception_is_500_and_reraised(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with pytest.raises(RuntimeError, match="app bug"):
            get("/boom/")
        assert Client(raise_request_exception=False).get("/boom/").status_code == 500
        first, second = security(sink, privlog)
        assert first["http.response.status_code"] == second["http.response.status_code"] == 500
        assert first["http.route"] == "/boom/"

    def test_streamed_response_recorded_after_close(self, privlog: PrivacyLog, sink: ListSink) -> None:
        response = get("/stream/")
        assert security(sink, privlog) == []
        assert b"".join(response.streaming_content) == b"a" * 10 + b"b" * 5  # closes it at the end
        (rec,) = security(sink, privlog)
        assert rec["http.response.body.size"] == 15
        assert rec["http.response.status_code"] == 200

    def test_body_size_without_joining_the_content(
        self, privlog: PrivacyLog, sink: ListSink, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        joined: list[bool] = []
        content: Any = vars(HttpResponse)["content"]  # the property

        def spy(response: HttpResponse) -> bytes:
            joined.append(True)
            return bytes(content.fget(response))

        monkeypatch.setattr(HttpResponse, "content", property(spy, content.fset))
        with override_settings(ROOT_URLCONF=__name__):
            response = get("/chunks/")
        assert joined == []  # no Content-Length, yet the body was not joined to measure it
        (rec,) = security(sink, privlog)
        assert rec["http.response.body.size"] == 15
        assert response.content == b"a" * 10 + b"b" * 5

    def test_post_body_size_from_content_length(self, privlog: PrivacyLog, sink: ListSink) -> None:
        Client().post("/login/", {"username": "nobody", "password": "x"})
        privlog.flush()
        request = next(r for r in sink.stream("security") if r["event.name"] == "http.request")
        assert request["http.request.body.size"] > 0
        assert request["http.response.status_code"] == 401


class TestUsersAndSignals:
    def test_login_request_and_event_share_the_pseudonym(self, privlog: PrivacyLog, sink: ListSink) -> None:
        client = Client(headers=HEADERS)
        assert client.post("/login/", {"username": "alice@example.com", "password": "correct horse"}).content
        client.get("/me/")
        client.post("/logout/")
        client.get("/me/")
        login_event, login_req, me, logout_event, logout_req, anon = security(sink, privlog)
        assert login_event["event.name"] == "auth.login_success"
        assert logout_event["event.name"] == "auth.logout"
        assert login_event["user.id"] == login_req["user.id"] == me["user.id"] == logout_event["user.id"]
        assert "user.id" not in logout_req
        assert "user.id" not in anon
        assert login_event["privlog.client.address"] == me["privlog.client.address"]
        blob = orjson.dumps([r.attributes for r in sink.records]).decode()
        assert "90817263" not in blob
        assert "alice" not in blob
        assert "198.51.100.77" not in blob

    def test_failed_login_pseudonymises_the_username(self, privlog: PrivacyLog, sink: ListSink) -> None:
        Client().post("/login/", {"username": "alice@example.com", "password": "wrong"})
        assert authenticate(None, username="mallory", password="guess") is None  # no request
        with_request, _request, without_request = security(sink, privlog)
        assert with_request["event.name"] == without_request["event.name"] == "auth.login_failure"
        assert with_request["user.id"]
        assert without_request["user.id"]  # mallory has no account: the username, pseudonymised
        assert "alice" not in with_request["user.id"]
        assert "mallory" not in without_request["user.id"]
        assert "privlog.client.address" in with_request
        assert "client.address" not in without_request

    def test_failed_and_successful_logins_of_an_account_share_its_pseudonym(
        self, privlog: PrivacyLog, sink: ListSink
    ) -> None:
        """Attempts on an account link to the account they hit (resolved to its primary key)."""
        Client().post("/login/", {"username": "alice@example.com", "password": "wrong"})
        Client().post("/login/", {"username": "alice@example.com", "password": "correct horse"})
        Client().post("/login/", {"username": "nobody@example.com", "password": "x"})
        events = [r for r in security(sink, privlog) if r["event.name"].startswith("auth.")]
        failed, succeeded, unknown = events
        assert failed["event.name"] == "auth.login_failure"
        assert succeeded["event.name"] == "auth.login_success"
        assert failed["user.id"] == succeeded["user.id"]
        assert unknown["user.id"] != succeeded["user.id"]

    def test_the_account_lookup_is_the_query_django_already_made(self, privlog: PrivacyLog) -> None:
        """One query by natural key, the same whether the account exists or not."""
        counts = []
        for username in ("alice@example.com", "nobody@example.com"):
            with CaptureQueriesContext(connection) as queries:
                authenticate(None, username=username, password="wrong")
            counts.append([q["sql"].split("WHERE")[0] for q in queries.captured_queries])
        assert len(counts[0]) == len(counts[1])

    def test_force_login_user_is_recorded(self, privlog: PrivacyLog, sink: ListSink) -> None:
        client = Client()
        client.force_login(alice())
        client.get("/hello")
        *_, rec = security(sink, privlog)
        assert rec["user.id"]
        assert rec["user.id"] != "90817263"

    def test_view_not_reading_the_user_costs_no_user_query(self, privlog: PrivacyLog, sink: ListSink) -> None:
        client = Client()
        client.force_login(alice())
        with CaptureQueriesContext(connection) as hello:
            client.get("/hello")
        with CaptureQueriesContext(connection) as me:
            client.get("/me/")  # reads request.user itself
        with CaptureQueriesContext(connection) as anon:
            Client().get("/hello")
        *_, hello_rec, me_rec, anon_rec = security(sink, privlog)
        assert [q["sql"] for q in hello.captured_queries if "auth_user" in q["sql"]] == []
        assert len(hello) == 1  # the session, which names the user
        assert len([q for q in me.captured_queries if "auth_user" in q["sql"]]) == 1  # the view's
        assert len(anon) == 0  # no session cookie: nothing to look up
        assert hello_rec["user.id"] == me_rec["user.id"]
        assert "user.id" not in anon_rec

    def test_reading_the_user_adds_no_vary_cookie(self, privlog: PrivacyLog, sink: ListSink) -> None:
        inner = [*site.MIDDLEWARE[1:], site.MIDDLEWARE[0]]  # privlog inside sessions
        client = Client()
        client.force_login(alice())
        with override_settings(MIDDLEWARE=inner):
            response = client.get("/hello")
        assert "Vary" not in response
        *_, rec = security(sink, privlog)
        assert rec["user.id"]


class TestAsgi:
    def test_async_view_route_user_and_client(self, privlog: PrivacyLog, sink: ListSink) -> None:
        async def run() -> None:
            client = AsyncClient()
            await sync_to_async(client.force_login)(await sync_to_async(alice)())  # aforce_login is Django 5+
            await client.get("/ahello", headers=HEADERS)
            await client.get("/users/7/", headers=HEADERS)

        asyncio.run(run())
        get("/hello")  # the same client through the WSGI handler
        *_, ahello, user, wsgi = security(sink, privlog)
        assert ahello["http.route"] == "/ahello"
        assert user["http.route"] == "/users/<int:pk>/"
        assert ahello["http.response.body.size"] == 5
        assert ahello["network.protocol.version"] == "1.1"
        assert ahello["user.id"] == user["user.id"]
        assert ahello["user.id"] != "90817263"
        assert ahello["privlog.client.address"] == wsgi["privlog.client.address"]  # from X-Forwarded-For in both
        assert ahello["user_agent.name"] == "Firefox"

    def test_async_streaming_and_errors(self, privlog: PrivacyLog, sink: ListSink) -> None:
        async def run() -> bytes:
            client = AsyncClient(raise_request_exception=False)
            response = await client.get("/astream/")
            body = b"".join([chunk async for chunk in response.streaming_content])
            await client.get("/boom/")
            return body

        assert asyncio.run(run()) == b"a" * 10 + b"b" * 5
        stream, boom = security(sink, privlog)
        assert stream["http.response.body.size"] == 15
        assert boom["http.response.status_code"] == 500

    def test_view_not_reading_the_user_loads_no_user(
        self, privlog: PrivacyLog, sink: ListSink, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import django.contrib.auth as auth

        loads: list[str] = []
        get_user, aget_user = auth.get_user, getattr(auth, "aget_user", None)

        def spy(request: Any) -> Any:
            loads.append("get_user")
            return get_user(request)

        async def aspy(request: Any) -> Any:
            loads.append("aget_user")
            assert aget_user is not None
            return await aget_user(request)

        monkeypatch.setattr(auth, "get_user", spy)
        monkeypatch.setattr(auth, "aget_user", aspy, raising=False)

        async def run() -> None:
            client = AsyncClient()
            await sync_to_async(client.force_login)(await sync_to_async(alice)())
            await client.get("/ahello", headers=HEADERS)
            await AsyncClient().get("/ahello")

        asyncio.run(run())
        assert loads == []
        monkeypatch.undo()
        me = Client()
        me.force_login(alice())
        me.get("/me/")
        _login, ahello, anon, _login_again, me_rec = security(sink, privlog)
        assert ahello["user.id"] == me_rec["user.id"]
        assert "user.id" not in anon

    def test_django_asgi_handler_under_a_real_asgi_driver(self, privlog: PrivacyLog, sink: ListSink) -> None:
        client = TestClient(ASGIHandler(), client=("127.0.0.1", 40000))  # no lifespan: Django has none
        r = client.get("/users/90817263/?page=2&token=s3cr3t", headers=HEADERS)
        s = client.get("/astream/")
        user, stream = security(sink, privlog)
        assert user["http.route"] == "/users/<int:pk>/"
        assert user["http.response.body.size"] == len(r.content)
        assert user["client.port"] == 40000
        assert stream["http.response.body.size"] == len(s.content) == 15
        assert sink.stream("analytics")[0]["url.query"] == "page=2"  # the query arrived as bytes


class TestConfiguration:
    def test_bad_key_is_named(self) -> None:
        with pytest.raises(ImproperlyConfigured) as err:
            conf.check(policy_dict(client_ipp="truncate"))
        message = str(err.value)
        assert message.startswith(
            "settings.PRIVLOG['streams']['access']['fields']['client_ipp']: unknown field"
        )
        assert "did you mean 'client_ip'" in message

    def test_manage_py_check_reports_a_bad_policy_with_an_id(self) -> None:
        bad = copy.deepcopy(FULL)
        bad["retention"]["security"]["days"] = 0
        with override_settings(PRIVLOG=bad):
            (message,) = checks.check_policy()
            assert message.id == "privlog.E001"
            assert "['days']" in message.msg
            assert message.hint
            with pytest.raises(SystemCheckError, match=r"privlog\.E001"):
                call_command("check")

    def test_ready_builds_nothing(self, tmp_path: Path) -> None:
        """A management command (check, collectstatic) creates no store folder."""
        store = tmp_path / "never-created"
        data = {**policy_dict(), "export": {"sink": "jsonl", "directory": str(store)}}
        with override_settings(PRIVLOG=data):
            apps.get_app_config("privlog").ready()
            assert checks.check_policy() == []
            call_command("check")
            assert not store.exists()

    def test_a_keyed_policy_is_checked_without_its_secret(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A Docker build runs `check` and `collectstatic` without PRIVLOG_SECRET: a warning only."""
        monkeypatch.delenv("PRIVLOG_SECRET", raising=False)
        monkeypatch.delenv("PRIVLOG_SECRET_FILE", raising=False)
        keyed = {**copy.deepcopy(FULL), "export": {"sink": "jsonl", "directory": str(tmp_path / "logs")}}
        with override_settings(PRIVLOG=keyed):
            (message,) = checks.check_policy()
            assert message.id == "privlog.W001"
            assert "PRIVLOG_SECRET" in message.msg
            keyed["streams"]["security"]["fields"]["client_ipp"] = "hash"
            (error,) = checks.check_policy()  # the rest is still validated
            assert error.id == "privlog.E001"
            assert "client_ipp" in error.msg
        assert not (tmp_path / "logs").exists()

    def test_the_middleware_missing_or_not_first_is_a_warning(self) -> None:
        with override_settings(MIDDLEWARE=site.MIDDLEWARE[1:]):
            assert [m.id for m in checks.check_middleware()] == ["privlog.W002"]
        with override_settings(MIDDLEWARE=[*site.MIDDLEWARE[1:], site.MIDDLEWARE[0]]):
            (message,) = checks.check_middleware()
            assert "not first" in message.msg
        assert checks.check_middleware() == []

    def test_a_broken_policy_serves_requests_unlogged_and_says_so_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with override_settings(PRIVLOG=None):
            assert Client().get("/hello").status_code == 200
            assert Client().get("/hello").status_code == 200
        errors = [r for r in caplog.records if "PRIVLOG: is not set" in r.getMessage()]
        assert len(errors) == 1

    def test_dict_setting_builds_and_replaces_the_shared_privlog(self, tmp_path: Path) -> None:
        data = {**policy_dict(), "export": {"sink": "jsonl", "directory": str(tmp_path)}}
        with override_settings(PRIVLOG=data):
            get("/users/90817263/")
            built = conf.get_privlog()
            assert built.policy.service == "test"
        assert built.dispatcher._closed  # replaced when the override ended, so closed
        (day,) = (tmp_path / "access").glob("*.jsonl")
        assert orjson.loads(day.read_bytes())["http.route"] == "/users/<int:pk>/"

    def test_toml_path_setting(self) -> None:
        path = str(Path(__file__).parents[2] / "examples" / "access-7-days.toml")
        assert conf.check(path).service == "kirim-web"
        with pytest.raises(ImproperlyConfigured, match=r"settings.PRIVLOG = '/nonexistent.toml'"):
            conf.check("/nonexistent.toml")


class TestPrivlogErrorsStayOut:
    def test_submit_raising_does_not_reach_the_app(
        self, privlog: PrivacyLog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(capture: Any) -> None:
            raise MemoryError

        monkeypatch.setattr(privlog, "submit", broken)
        assert get("/hello").content == b"hello"
        response = get("/stream/")
        assert b"".join(response.streaming_content) == b"a" * 10 + b"b" * 5

    def test_user_pk_whose_str_raises(self, privlog: PrivacyLog, sink: ListSink) -> None:
        with override_settings(ROOT_URLCONF=__name__):
            assert get("/odd-user/").content == b"odd"
            assert asyncio.run(AsyncClient().get("/odd-user/")).content == b"odd"
        sync_rec, async_rec = security(sink, privlog)
        assert sync_rec["http.route"] == async_rec["http.route"] == "/odd-user/"
        assert "user.id" not in sync_rec
        assert "user.id" not in async_rec

    def test_policy_broken_after_start_up_serves_unlogged(self) -> None:
        client = Client()
        client.get("/hello")  # middleware loaded with the session's valid policy
        with override_settings(PRIVLOG={"streams": {}}):
            assert client.get("/hello").content == b"hello"


@pytest.mark.integration
def test_real_wsgi_server(privlog: PrivacyLog, sink: ListSink) -> None:
    with serve(WSGIHandler()) as base:
        r = httpx.get(f"{base}/users/90817263/?page=2&token=s3cr3t", headers=HEADERS)
        s = httpx.get(f"{base}/stream/")
        deadline = time.monotonic() + 5
        while len(security(sink, privlog)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    stream, user = sorted(security(sink, privlog), key=lambda rec: rec["url.path"])
    assert user["http.route"] == "/users/<int:pk>/"
    assert user["http.response.body.size"] == len(r.content)
    assert stream["http.response.body.size"] == len(s.content) == 15
    assert isinstance(user["client.port"], int)
    blob = orjson.dumps([rec.attributes for rec in sink.records]).decode()
    for secret in ("127.0.0.1", "198.51.100.77", "90817263", "s3cr3t"):
        assert secret not in blob


@pytest.mark.integration
def test_real_asgi_server(privlog: PrivacyLog, sink: ListSink) -> None:
    """Django's ASGI handler under uvicorn on 127.0.0.1: the async middleware, end to end."""
    from django.core.handlers.asgi import ASGIHandler

    from privlog._demo import _serve

    server, thread, port = _serve(ASGIHandler(), lifespan="off")  # Django has no lifespan
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/users/90817263/?page=2&token=s3cr3t", headers=HEADERS)
        assert r.status_code == 200
        deadline = time.monotonic() + 5
        while not security(sink, privlog) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    (user,) = security(sink, privlog)
    assert user["http.route"] == "/users/<int:pk>/"
    assert user["http.response.status_code"] == 200
    assert user["http.response.body.size"] == len(r.content)
    blob = orjson.dumps([rec.attributes for rec in sink.records]).decode()
    for secret in ("198.51.100.77", "90817263", "s3cr3t"):
        assert secret not in blob
