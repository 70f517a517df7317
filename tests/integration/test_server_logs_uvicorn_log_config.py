"""uvicorn with the user's own logging configuration, applied after privlog's filters exist.

``uvicorn.run(app, log_config=...)`` runs ``dictConfig`` when the server starts; here the app
is wrapped at import, so privlog's filters are installed first, and the configuration brings
its own handlers and formatters (uvicorn's access formatter fields, a plain one for errors).
"""

from __future__ import annotations

import json
import sys

import pytest

from ..support.server_logs import assert_clean, serve_and_log

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": True,
    "formatters": {
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": "ACCESS client=%(client_addr)s line=%(request_line)s status=%(status_code)s",
        },
        "plain": {"format": "ERRORLOG %(levelname)s %(message)s"},
    },
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
        "errors": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["errors"], "level": "INFO", "propagate": False},
    },
}


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("uvicorn-log-config")
    config = directory / "log-config.json"
    config.write_text(json.dumps(LOG_CONFIG))
    command = [sys.executable, "-m", "tests.support.server_apps.asgi_run", "{port}", str(config)]
    return serve_and_log(directory, command)


class TestUvicornWithTheUsersLogConfig:
    def test_stdout_and_stderr_hold_no_personal_data(self, output: str) -> None:
        assert_clean(output)

    def test_the_users_formatters_print_the_shaped_access_lines(self, output: str) -> None:
        assert "ACCESS client=203.0.0.0 line=GET /users/{id}?page HTTP/1.1 status=200" in output
        assert "ACCESS client=2001:db8:: line=GET /nope/{email}/{token}?page HTTP/1.1 status=404" in output

    def test_the_users_error_handler_prints_the_scrubbed_traceback(self, output: str) -> None:
        assert "ERRORLOG ERROR Exception in ASGI application" in output
        assert "RuntimeError: no account for {email}" in output
