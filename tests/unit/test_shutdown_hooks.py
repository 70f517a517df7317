"""The shutdown hooks that need no server: uWSGI's ``uwsgi.atexit`` chain, and a SIGTERM handler
armed on the main thread exporting a PrivacyLog built later on another thread."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
import weakref
from pathlib import Path

import orjson
import pytest

from privlog import Policy, PrivacyLog
from privlog._core import shutdown

from ..support.policies import ENV, FULL
from ..support.requests import capture, scope
from ..support.sinks import ListSink, security

ROOT = Path(__file__).parents[2]


@pytest.fixture
def fake_uwsgi(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The ``uwsgi`` module as uWSGI embeds it, with a hook someone registered before privlog."""
    module = types.ModuleType("uwsgi")
    calls: list[str] = []
    module.calls = calls  # type: ignore[attr-defined]
    module.atexit = lambda: calls.append("previous")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uwsgi", module)
    monkeypatch.setattr(shutdown, "_uwsgi_chained", False)
    monkeypatch.setattr(shutdown, "_watched", weakref.WeakSet())  # the hook closes what it watches
    return module


class TestUwsgiAtexit:
    def test_records_are_exported_and_the_previous_hook_still_runs(
        self, fake_uwsgi: types.ModuleType, sink: ListSink
    ) -> None:
        pl = PrivacyLog(Policy.from_dict({**FULL, "export": {"flush_interval": 60}}, environ=ENV), sinks=[sink])
        pl.submit(capture(scope()))
        assert sink.records == []  # a minute to the next batch
        fake_uwsgi.atexit()
        assert len(security(sink, pl)) == 1
        assert fake_uwsgi.calls == ["previous"]  # type: ignore[attr-defined]

    def test_chained_once_however_many_privacy_logs(self, fake_uwsgi: types.ModuleType, sink: ListSink) -> None:
        for _ in range(3):
            PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink]).close()
        fake_uwsgi.atexit()
        assert fake_uwsgi.calls == ["previous"]  # type: ignore[attr-defined]

    def test_outside_uwsgi_nothing_is_chained(self, monkeypatch: pytest.MonkeyPatch, sink: ListSink) -> None:
        monkeypatch.delitem(sys.modules, "uwsgi", raising=False)
        monkeypatch.setattr(shutdown, "_uwsgi_chained", False)
        PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink]).close()
        assert "uwsgi" not in sys.modules
        assert shutdown._uwsgi_chained is False


BUILT_IN_A_THREAD = """
import os, signal, threading, sys
from privlog import Policy, PrivacyLog
from privlog._core import shutdown
from tests.support.policies import policy_dict
from tests.support.requests import capture, scope

if sys.argv[1] == "armed":
    assert shutdown.arm()  # what Django's app does at start-up, on the main thread
data = {**policy_dict(), "export": {"sink": "jsonl", "directory": sys.argv[2], "flush_interval": 60}}
built = []
thread = threading.Thread(target=lambda: built.append(PrivacyLog(Policy.from_dict(data, environ={}))))
thread.start()
thread.join()
for _ in range(5):
    built[0].submit(capture(scope()))
os.kill(os.getpid(), signal.SIGTERM)
signal.pause()  # SIGTERM ends the process: as under waitress, whose SIGTERM is the default
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("mode", "expected"), [("armed", 5), ("not-armed", 0)])
def test_sigterm_exports_a_privacylog_built_off_the_main_thread_once_armed(
    tmp_path: Path, mode: str, expected: int
) -> None:
    """Not armed, the records are lost (the default SIGTERM): this shows the test can fail."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = textwrap.dedent(BUILT_IN_A_THREAD)
    proc = subprocess.run(
        [sys.executable, "-c", script, mode, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == -15, proc.stderr.decode()[-2000:]
    lines = [orjson.loads(x) for p in tmp_path.glob("*/*.jsonl") for x in p.read_bytes().splitlines()]
    assert len(lines) == expected
