"""hypercorn serving the FastAPI app, with its access log on (``--access-logfile -``)."""

from __future__ import annotations

import sys

import pytest

from ..support.server_logs import assert_clean, serve_and_log


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    command = [
        sys.executable, "-m", "hypercorn", "--bind", "127.0.0.1:{port}", "--access-logfile", "-",
        "tests.support.server_apps.asgi_app:app",
    ]  # fmt: skip
    return serve_and_log(tmp_path_factory.mktemp("hypercorn"), command)


class TestHypercorn:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_access_lines_keep_only_what_the_policy_records(self, output: str) -> None:
        assert "127.0.0.0 - - [" in output  # the peer, truncated, without its port
        assert '"GET /nope/{email}/{token} 1.1" 404' in output
        assert '"https://news.example.com" "Other (Other, other)"' in output
        assert "127.0.0.1:" not in output.split("Running on", 1)[1].split("\n", 1)[1]

    def test_the_exception_is_logged_with_its_text_scrubbed(self, output: str) -> None:
        assert "Error in ASGI Framework" in output
        assert "RuntimeError: no account for {email}" in output
