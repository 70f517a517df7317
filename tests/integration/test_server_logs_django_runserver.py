"""Django's ``runserver`` (DEBUG on), with privlog installed as the README's Django section says."""

from __future__ import annotations

import sys

import pytest

from ..support.server_logs import assert_clean, serve_and_log


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    command = [
        sys.executable, "-m", "django", "runserver", "127.0.0.1:{port}", "--noreload",
        "--settings", "tests.support.server_apps.django_settings",
    ]  # fmt: skip
    return serve_and_log(tmp_path_factory.mktemp("runserver"), command, slash="/")


class TestDjangoRunserver:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_django_server_access_lines_are_shaped(self, output: str) -> None:
        assert '"GET /users/{id}/?page HTTP/1.1" 200' in output
        assert '"GET /nope/{email}/{token}/?page HTTP/1.1" 404' in output

    def test_django_request_messages_are_scrubbed(self, output: str) -> None:
        assert "Not Found: /nope/{email}/{token}/" in output
        assert "Internal Server Error: /boom/{email}/" in output
        assert "RuntimeError: no account for {email}" in output
