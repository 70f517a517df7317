"""privlog.testing: users capture what their own policy logs, as structlog.testing.capture_logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi import Request as FastApiRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from privlog.testing import RecordCapture, capture_records

from ..support.policies import ENV, policy_dict

ROOT = Path(__file__).parents[2]


async def user(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def app_and_privlog(tmp_path: Path) -> tuple[Any, PrivacyLog]:
    policy = Policy.from_dict({**policy_dict(), "export": {"sink": "jsonl", "directory": str(tmp_path)}}, environ=ENV)
    privlog = PrivacyLog(policy)
    return PrivacyLogMiddleware(Starlette(routes=[Route("/users/{user_id}", user)]), privlog=privlog), privlog


class TestCaptureRecords:
    def test_captures_the_transformed_records_of_the_block(self, tmp_path: Path) -> None:
        app, privlog = app_and_privlog(tmp_path)
        with TestClient(app, client=("203.0.113.195", 5000)) as client:
            client.get("/users/1")  # before the block: not captured
            with capture_records(privlog) as records:
                client.get("/users/4711")
        (record,) = records
        assert record["http.route"] == "/users/{user_id}"
        assert record["client.address"] == "203.0.113.0"
        assert "4711" not in repr(record)
        assert records.stream("access") == [record]
        privlog.close()

    def test_takes_the_middleware_too_and_the_app_sinks_still_get_everything(self, tmp_path: Path) -> None:
        app, privlog = app_and_privlog(tmp_path)
        with TestClient(app) as client, capture_records(app) as records:
            client.get("/users/1")
            client.get("/users/2")
        assert len(records) == 2
        privlog.close()
        assert sum(len(p.read_bytes().splitlines()) for p in tmp_path.rglob("*.jsonl")) == 2

    def test_refuses_what_holds_no_privlog(self) -> None:
        with pytest.raises(TypeError, match="needs a PrivacyLog"), capture_records(object()):
            pass

    def test_the_sink_alone(self) -> None:
        capture = RecordCapture()
        privlog = PrivacyLog(Policy.from_dict(policy_dict(), environ=ENV), sinks=[capture])
        privlog.auth_event("login_success", user_id="alice")  # no auth stream: nothing
        privlog.close()
        assert capture.records == []


class TestSmallManners:
    def test_american_spellings_are_accepted(self) -> None:
        policy = Policy.from_dict(policy_dict(user_agent="generalize", user_id="pseudonymize"), environ=ENV)
        actions = {name: rule.action for name, rule in policy.streams[0].fields.items()}
        assert actions == {"user_agent": "generalise", "user_id": "pseudonymise"}

    def test_auth_events_without_an_auth_stream_say_so_once(self, caplog: pytest.LogCaptureFixture) -> None:
        privlog = PrivacyLog(Policy.from_dict(policy_dict(), environ=ENV), sinks=[RecordCapture()])
        with caplog.at_level(logging.WARNING, logger="privlog"):
            privlog.auth_event("login_failure", user_id="alice")
            privlog.auth_event("login_failure", user_id="bob")
        said = [r for r in caplog.records if "auth events are not recorded" in r.getMessage()]
        assert len(said) == 1
        assert "alice" not in caplog.text
        privlog.close()

    def test_user_facing_text_describes_promises_not_research_ids(self) -> None:
        """README, docs, shipped policies, examples and docstrings never say "seed 00N"."""
        places = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "examples").rglob("*.*"),
                  *(ROOT / "src" / "privlog").rglob("*.py"), *(ROOT / "src" / "privlog").rglob("*.toml")]
        said = [str(p.relative_to(ROOT)) for p in places if p.is_file() and "seed 0" in p.read_text(errors="replace").lower()]
        assert not said


async def current_user(request: FastApiRequest) -> str:
    """A dependency as docs/fastapi.md shows: it leaves the user id in request.state."""
    request.state.user_id = "alice"
    return "alice"


async def orders(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
    return {"ok": user}


class TestFastApiDependsPattern:
    def test_the_user_id_a_dependency_resolved_reaches_the_record(self) -> None:
        """docs/fastapi.md: the dependency leaves the id in request.state, the hook reads it."""
        capture = RecordCapture()
        policy = Policy.from_dict(policy_dict(path="template", status="keep", user_id="pseudonymise"), environ=ENV)
        privlog = PrivacyLog(policy, sinks=[capture])
        app = FastAPI()
        app.add_middleware(
            PrivacyLogMiddleware, privlog=privlog, user_id=lambda scope: scope.get("state", {}).get("user_id")
        )
        app.get("/orders")(orders)
        with TestClient(app) as client:
            assert client.get("/orders").status_code == 200
        privlog.close()
        (record,) = capture.records
        assert record["user.id"]
        assert record["user.id"] != "alice"


TRUSTING = {**policy_dict(), "proxies": {"trusted": ["127.0.0.1"]}}
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"


class TestEachFramework:
    def test_a_policy_gets_a_privlog_that_only_captures(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        with capture_records(policy_dict()) as records:
            assert records.privlog is not None
            app = PrivacyLogMiddleware(Starlette(routes=[Route("/users/{user_id}", user)]), privlog=records.privlog)
            with TestClient(app) as client:
                client.get("/users/90817263?token=s3cr3t", headers={"user-agent": UA})
        (record,) = records
        assert record["http.route"] == "/users/{user_id}"
        assert record["privlog.retention.days"] == 7
        assert "90817263" not in repr(record)
        assert "s3cr3t" not in repr(record)
        assert list(tmp_path.iterdir()) == []  # no store written: the capture is its only sink
        assert records.privlog.stats().queued == 0

    def test_a_flask_app_with_the_extension(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from flask import Flask

        from privlog.flask import PrivacyLogExtension

        monkeypatch.chdir(tmp_path)  # the policy's own JSONL store goes here
        app = Flask(__name__)
        app.config.update(TESTING=True, PRIVLOG=TRUSTING)
        PrivacyLogExtension(app)

        @app.get("/users/<int:user_id>")
        def show(user_id: int) -> str:
            return "hi"

        with capture_records(app) as records:
            # Flask finishes a request when its response is closed, or read whole (buffered)
            with app.test_client().get("/users/90817263", headers={"x-forwarded-for": "198.51.100.77"}):
                pass
            app.test_client().get("/users/1?token=s3cr3t", buffered=True)
        first, second = records
        assert first["http.route"] == second["http.route"] == "/users/<int:user_id>"
        assert first["client.address"] == "198.51.100.0"  # the forwarded address, truncated
        assert "s3cr3t" not in repr(second)
        app.extensions["privlog"].close()

    def test_django_without_a_target_is_the_projects_privlog(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        from django.test import Client

        from privlog.django import conf

        from ..support.django_site import configure

        configure(tmp_path_factory.mktemp("django"))
        own = conf.get_privlog().sinks
        with capture_records() as records:
            Client(headers={"user-agent": UA}).get("/users/90817263/?token=s3cr3t")
        (record,) = records.stream("access")
        assert record["url.path"] == "/users/<int:pk>/"
        assert record["http.response.status_code"] == 200
        assert "s3cr3t" not in repr(record)
        assert conf.get_privlog().sinks == own  # the capture is gone again

    def test_django_with_a_policy_of_the_test(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        from django.test import Client, override_settings

        from ..support.django_site import configure

        configure(tmp_path_factory.mktemp("django"))
        with capture_records(policy_dict(status="keep")) as records, override_settings(PRIVLOG=records.privlog):
            Client().get("/users/90817263/")
        (record,) = records
        assert record["http.response.status_code"] == 200
        assert "url.path" not in record  # this policy keeps the status only
