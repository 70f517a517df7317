"""waitress serving a plain WSGI app (privlog.wsgi), trusting X-Forwarded-For and -Proto from 127.0.0.1."""

from __future__ import annotations

import sys

import pytest

from ..support.server_logs import EMAIL, assert_clean, serve_and_log


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    command = [
        sys.executable, "-m", "waitress", "--host", "127.0.0.1", "--port", "{port}",
        "--trusted-proxy", "127.0.0.1", "--trusted-proxy-headers", "x-forwarded-for x-forwarded-proto",
        "tests.support.server_apps.wsgi_app:app",
    ]  # fmt: skip
    # waitress quotes a malformed proxy header in its warning
    malformed = {"X-Forwarded-Proto": EMAIL}
    return serve_and_log(tmp_path_factory.mktemp("waitress"), command, extra=[malformed])


class TestWaitress:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_the_exception_and_its_path_are_scrubbed(self, output: str) -> None:
        assert "Exception while serving /boom/{email}" in output
        assert "RuntimeError: no account for {email}" in output

    def test_the_malformed_header_warning_is_scrubbed(self, output: str) -> None:
        assert 'Malformed proxy header "X-Forwarded-Proto" from "127.0.0.1"' in output
        assert "value: {email}" in output
