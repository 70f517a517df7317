"""uWSGI serving the Flask app with ``--disable-logging``, as the README says: uWSGI's request
log is written in C, outside Python's logging, so only that flag keeps it out."""

from __future__ import annotations

import sys

import pytest

from ..support.server_logs import BIN, assert_clean, serve_and_log

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uWSGI does not run on Windows")


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    command = [
        str(BIN / "uwsgi"), "--http-socket", "127.0.0.1:{port}", "--module", "tests.support.server_apps.flask_app:app",
        "--master", "--processes", "1", "--die-on-term", "--disable-logging",
    ]  # fmt: skip
    return serve_and_log(tmp_path_factory.mktemp("uwsgi"), command)


class TestUwsgi:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_the_server_did_log(self, output: str) -> None:
        assert "spawned uWSGI worker 1" in output
        assert "Exception on /boom/{email} [GET]" in output
        assert "RuntimeError: no account for {email}" in output
