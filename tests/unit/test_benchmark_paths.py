"""The benchmarks' two worker paths are what their names say, in one process.

``make bench`` compares privlog on the pure-Python pipeline with privlog on the compiled
extension in the same run (benchmarks/loopback_app.py's ``*_python`` and ``*_extension`` apps).
The Python app must not use the extension even where it is installed, and the extension app
must refuse to start rather than quietly run Python under the extension's name.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from privlog._core.native import available

# The benchmark apps include OpenTelemetry's ASGI instrumentation as the peer: a dev dependency,
# absent where only the unit tests' own packages are installed (make test-versions).
pytest.importorskip("opentelemetry.instrumentation.asgi")
from benchmarks import loopback_app


def get(app: Any, path: str, client: str) -> int:
    """One request through ``app`` in process; the response status."""
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"example.com"), (b"x-forwarded-for", client.encode())],
        "client": ("127.0.0.1", 51000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    return status[0]


@pytest.fixture
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRIVLOG_BENCH_DIR", str(tmp_path))
    monkeypatch.delenv("PRIVLOG_NATIVE", raising=False)
    return tmp_path


@pytest.mark.parametrize("factory", ["access_python", "security_python"])
def test_the_python_apps_never_use_the_extension(bench_dir: Path, factory: str) -> None:
    app = getattr(loopback_app, factory)()
    try:
        assert app.privlog.dispatcher.native is None
        assert get(app, "/users/4001", "203.0.113.7") == 200
        app.privlog.flush()
        assert app.privlog.stats().exported >= 1
        assert list(bench_dir.rglob("*.jsonl"))
    finally:
        app.privlog.close()


@pytest.mark.parametrize("factory", ["access_extension", "security_extension"])
def test_the_extension_apps_use_it_or_refuse_to_start(bench_dir: Path, factory: str) -> None:
    if not available():
        with pytest.raises(RuntimeError, match="privlog-native is not installed"):
            getattr(loopback_app, factory)()
        return
    app = getattr(loopback_app, factory)()
    try:
        assert app.privlog.dispatcher.native is not None
        assert get(app, "/users/4001", "203.0.113.7") == 200
        app.privlog.flush()
        assert app.privlog.stats().exported >= 1
        assert list(bench_dir.rglob("*.jsonl"))
    finally:
        app.privlog.close()


def test_privlog_native_0_makes_the_extension_apps_refuse(bench_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVLOG_NATIVE", "0")
    with pytest.raises(RuntimeError, match="privlog-native"):
        loopback_app.security_extension()
