"""uvicorn, run as the README says: ``uvicorn app:app`` (proxy headers from 127.0.0.1 on)."""

from __future__ import annotations

import sys

import pytest

from ..support.server_logs import assert_clean, serve_and_log


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    command = [sys.executable, "-m", "uvicorn", "tests.support.server_apps.asgi_app:app", "--port", "{port}"]
    return serve_and_log(tmp_path_factory.mktemp("uvicorn"), command)


class TestUvicorn:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_access_lines_say_what_privlogs_record_says(self, output: str) -> None:
        assert '203.0.0.0 - "GET /users/{id}?page HTTP/1.1" 200' in output
        assert '2001:db8:: - "GET /nope/{email}/{token}?page HTTP/1.1" 404' in output
        assert '203.0.0.0 - "GET /boom/{email}?page HTTP/1.1" 500' in output

    def test_the_exception_is_logged_with_its_text_scrubbed(self, output: str) -> None:
        assert "Exception in ASGI application" in output
        assert "RuntimeError: no account for {email}" in output
