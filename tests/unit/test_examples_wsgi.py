"""The Flask and Django examples run as their docstrings say and write seed 002's log."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"


def only_record(directory: Path) -> dict[str, object]:
    (path,) = (directory / "privlog-logs" / "access").glob("*.jsonl")
    (rec,) = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    return rec


def test_flask_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    spec = importlib.util.spec_from_file_location("flask_example", EXAMPLES / "flask_app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    client = module.app.test_client()
    with client.get("/users/4711", environ_base={"REMOTE_ADDR": "203.0.113.195"}) as response:
        assert response.json == {"id": 4711}
    module.privlog.privlog.close()
    rec = only_record(tmp_path)
    assert rec["client.address"] == "203.0.0.0"
    assert rec["http.route"] == "/users/<int:user_id>"
    assert rec["privlog.retention.days"] == 7


DJANGO_REQUEST = """
import django
from django.test import Client
django.setup()
from privlog.django.conf import get_privlog
assert Client(REMOTE_ADDR="203.0.113.195", HTTP_HOST="localhost").get("/users/4711/").json() == {"id": 4711}
get_privlog().close()
"""


def test_django_example(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DJANGO_", "PRIVLOG_"))}
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    env["PYTHONPATH"] = str(EXAMPLES / "django_project")
    manage = [sys.executable, str(EXAMPLES / "django_project" / "manage.py")]
    subprocess.run([*manage, "check"], cwd=tmp_path, env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", DJANGO_REQUEST], cwd=tmp_path, env=env, check=True)
    rec = only_record(tmp_path)
    assert rec["client.address"] == "203.0.0.0"
    assert rec["http.route"] == "/users/<int:pk>/"
    assert rec["http.response.body.size"] == len(b'{"id": 4711}')
