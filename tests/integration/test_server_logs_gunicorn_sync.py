"""gunicorn's sync worker serving the Flask app, with an access log that also names headers."""

from __future__ import annotations

import sys

import pytest

from ..support.server_logs import assert_clean, serve_and_log

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn does not run on Windows")
FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(q)s %({x-forwarded-for}i)s %({cookie}i)s'
)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    command = [
        sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1",
        "--access-logfile", "-", "--access-logformat", FORMAT, "tests.support.server_apps.flask_app:app",
    ]  # fmt: skip
    return serve_and_log(tmp_path_factory.mktemp("gunicorn-sync"), command)


class TestGunicornSyncWorker:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_access_lines_keep_only_what_the_policy_records(self, output: str) -> None:
        line = next(x for x in output.splitlines() if '"GET /users/{id}?page HTTP/1.1" 200' in x)
        # address truncated, no Basic-auth user, the referrer's origin, the generalised agent,
        # the allow-listed query, no proxy header, no cookie
        assert line.startswith("127.0.0.0 - - [")
        assert line.endswith('"https://news.example.com" "Other (Other, other)" page - -')

    def test_flasks_exception_line_is_scrubbed(self, output: str) -> None:
        assert "Exception on /boom/{email} [GET]" in output
        assert "RuntimeError: no account for {email}" in output
