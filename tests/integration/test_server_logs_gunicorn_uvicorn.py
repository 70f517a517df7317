"""gunicorn with uvicorn's worker serving the FastAPI app, with privlog's gunicorn logger class."""

from __future__ import annotations

import sys

import pytest

from ..support.server_logs import assert_clean, serve_and_log

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn does not run on Windows")


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    command = [
        sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1",
        "--worker-class", "uvicorn_worker.UvicornWorker", "--logger-class", "privlog.gunicorn.Logger",
        "--access-logfile", "-", "tests.support.server_apps.asgi_app:app",
    ]  # fmt: skip
    return serve_and_log(tmp_path_factory.mktemp("gunicorn-uvicorn"), command)


class TestGunicornUvicornWorker:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_uvicorns_access_lines_through_gunicorns_handlers_are_shaped(self, output: str) -> None:
        assert '203.0.0.0 - "GET /users/{id}?page HTTP/1.1" 200' in output
        assert '2001:db8:: - "GET /nope/{email}/{token}?page HTTP/1.1" 404' in output

    def test_the_exception_is_logged_with_its_text_scrubbed(self, output: str) -> None:
        assert "RuntimeError: no account for {email}" in output

    def test_the_arbiters_own_messages_are_left_readable(self, output: str) -> None:
        assert "Listening at: http://127.0.0.1:" in output
