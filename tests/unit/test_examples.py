"""The examples a newcomer copies from work as the README says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_fastapi_example_writes_the_seven_day_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    spec = importlib.util.spec_from_file_location("fastapi_example", EXAMPLES / "fastapi_app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with TestClient(module.app, client=("203.0.113.195", 5000)) as client:
        assert client.get("/users/4711", headers={"referer": "https://a.example/p?email=x@y.z"}).status_code == 200
    (path,) = (tmp_path / "privlog-logs" / "access").glob("*.jsonl")
    (rec,) = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert rec["client.address"] == "203.0.0.0"  # /16, as the policy file says
    assert rec["http.route"] == "/users/{user_id}"
    assert rec["privlog.retention.days"] == 7
    assert rec["http.request.header.referer"] == "https://a.example"


def test_the_shipped_policies_are_the_examples() -> None:
    """examples/*.toml are what users read; src/privlog/policies/*.toml are what `privlog demo`
    and the presets load: the same files, byte for byte."""
    shipped = EXAMPLES.parent / "src" / "privlog" / "policies"
    names = sorted(p.name for p in shipped.glob("*.toml"))
    assert names == sorted(p.name for p in EXAMPLES.glob("*.toml"))
    assert names
    for name in names:
        assert (shipped / name).read_bytes() == (EXAMPLES / name).read_bytes(), name
