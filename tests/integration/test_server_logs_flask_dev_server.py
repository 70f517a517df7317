"""Flask's development server (werkzeug), as ``app.run()`` in the README's Flask example."""

from __future__ import annotations

import sys

import pytest

from ..support.server_logs import assert_clean, serve_and_log


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    command = [sys.executable, "-m", "tests.support.server_apps.flask_app", "{port}"]
    return serve_and_log(tmp_path_factory.mktemp("werkzeug"), command)


class TestFlaskDevelopmentServer:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_werkzeugs_request_lines_are_shaped(self, output: str) -> None:
        assert '"GET /users/{id}?page HTTP/1.1" 200' in output
        assert "GET /nope/{email}/{token}?page HTTP/1.1" in output
        requests = [x for x in output.splitlines() if "HTTP/1.1" in x]
        assert len(requests) == 4  # with the start-up probe
        assert all(x.startswith("127.0.0.0 - - [") for x in requests)  # the peer's address, truncated

    def test_flasks_exception_line_is_scrubbed(self, output: str) -> None:
        assert "Exception on /boom/{email} [GET]" in output
        assert "RuntimeError: no account for {email}" in output
