"""The JSONL store under real file-system faults: a full disk, a read-only mount, a deleted
folder. Nothing reaches the application, nothing is lost silently, and the counters equal
what is on disk."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from privlog._cli import main

from ..support.mounts import fill, tmpfs
from ..support.otlp_fake import free_port
from ..support.policies import ENV, FULL

ROOT = Path(__file__).parents[2]


def store_lines(directory: Path) -> list[bytes]:
    return [line for p in sorted(directory.glob("*/*.jsonl")) for line in p.read_bytes().splitlines()]


def make_privlog(directory: Path) -> PrivacyLog:
    data = {**FULL, "export": {"sink": "jsonl", "directory": str(directory), "flush_interval": 60}}
    return PrivacyLog(Policy.from_dict(data, environ=ENV))


def app_with(privlog: PrivacyLog) -> Starlette:
    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/users/{uid}", hello)])
    app.add_middleware(PrivacyLogMiddleware, privlog=privlog)
    return app


class TestReadOnlyStore:
    def test_requests_are_served_and_the_loss_counted(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        with tmpfs(tmp_path / "ro", read_only=True) as ro:
            pl = make_privlog(ro / "privlog-logs")  # start-up does not raise: it warns and counts
            with TestClient(app_with(pl)) as client:
                statuses = [client.get(f"/users/{i}").status_code for i in range(20)]
            pl.flush()
            stats = pl.stats()
            pl.close()
        assert statuses == [200] * 20
        assert stats.exported == 0
        assert stats.failed == stats.sinks["jsonl"].lost > 0  # every record of every stream
        assert stats.sinks["jsonl"].delivered == 0
        assert any("cannot be written" in r.message and str(ro) in r.message for r in caplog.records)


    def test_under_uvicorn_with_the_readme_wiring(self, tmp_path: Path) -> None:
        """The README's wiring (add_middleware(policy=...)): Starlette builds the middleware, and
        so the store, on the first request; that used to turn every request into a 500."""
        with tmpfs(tmp_path / "ro", read_only=True) as ro:
            port = free_port()
            env = {**os.environ, "PRIVLOG_TEST_DIR": str(ro / "privlog-logs"), "PYTHONPATH": str(ROOT)}
            app = "tests.support.shutdown_apps:starlette_app"
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--port", str(port), "--lifespan", "off", app],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                statuses = [status_of(port, f"/hello?n={i}") for i in range(5)]
            finally:
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=20)
        assert statuses == [200] * 5
        assert b"cannot be written" in err, err.decode()
        assert str(ro).encode() in err


def status_of(port: int, path: str) -> int:
    deadline = time.monotonic() + 20
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            conn.close()


class TestFullDisk:
    def test_a_write_lands_whole_or_not_at_all_and_counts_match_the_disk(self, tmp_path: Path) -> None:
        with tmpfs(tmp_path / "small", size="1m") as disk:
            pl = make_privlog(disk / "logs")
            exported = []
            with TestClient(app_with(pl)) as client:
                for round_ in range(12):
                    for i in range(10):
                        client.get(f"/users/{round_}-{i}", headers={"user-agent": "x" * 300})
                    pl.flush()
                    exported.append(pl.stats().exported)
                    if round_ == 3:
                        spare = disk / "spare"
                        spare.write_bytes(b"\0" * 4096)
                        filler = fill(disk)
                        spare.unlink()  # one page free: the next append is cut short
                    if round_ == 7:
                        filler.unlink()  # space comes back: writing resumes by itself
            stats = pl.stats()
            lines = store_lines(disk / "logs")
            pl.close()
        parsed = [orjson.loads(line) for line in lines]  # every line is a whole record
        assert len(parsed) == stats.sinks["jsonl"].delivered == stats.exported
        assert stats.sinks["jsonl"].lost > 0
        assert stats.failed == stats.sinks["jsonl"].lost
        assert stats.exported + stats.failed == 2 * 120  # two streams take every request
        assert exported[3] == 2 * 40  # all of it before the disk filled
        assert exported[4] == exported[7]  # nothing while it was full (not even part of a record)
        assert exported[11] == exported[7] + 2 * 40  # all of it once space came back


class TestDeletedStore:
    def test_the_folder_is_recreated_owner_only_on_the_next_write(self, tmp_path: Path) -> None:
        pl = make_privlog(tmp_path / "logs")
        with TestClient(app_with(pl)) as client:
            client.get("/users/1")
            pl.flush()
            shutil.rmtree(tmp_path / "logs")
            client.get("/users/2")
            pl.flush()
        stats = pl.stats()
        pl.close()
        assert stats.failed == 0
        assert stats.exported == 4
        for sdir in (tmp_path / "logs").iterdir():
            assert stat.S_IMODE(sdir.stat().st_mode) == 0o700
            assert (sdir / ".privlog-stream.json").exists()  # `retention sweep` still works
            for f in sdir.glob("*.jsonl"):
                assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
        assert len(store_lines(tmp_path / "logs")) == 2


class TestDamagedLines:
    def test_subject_requests_skip_and_report_a_damaged_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store = tmp_path / "logs"
        pl = make_privlog(store)
        pl.auth_event("login_success", user_id="alice@example.com")
        pl.auth_event("logout", user_id="bob@example.com")
        pl.flush()
        (path,) = (store / "security").glob("*.jsonl")
        alice, bob = path.read_bytes().splitlines()
        # A record cut off by a full disk, glued to the next: what a plain append left behind.
        path.write_bytes(alice[: len(alice) // 2] + bob + b"\n" + alice + b"\n")
        pl.close()
        policy = tmp_path / "policy.toml"
        policy.write_text(
            "\n".join(
                [
                    "[retention.security]\ndays = 90\npurpose = 'security'\nlegal_basis = 'legitimate interest'",
                    "[streams.security]\nretention = 'security'\nevents = ['auth']",
                    "[streams.security.fields]\nuser_id = 'pseudonymise'",
                    f"[export]\ndirectory = '{store}'",
                ]
            )
        )
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        assert main(["subject", "--policy", str(policy), "--user-id", "alice@example.com"]) == 0
        out = capsys.readouterr()
        assert "found 1 record(s)" in out.out
        assert "skipped 1 damaged line(s)" in out.err
        assert main(["subject", "--policy", str(policy), "--user-id", "alice@example.com", "--delete", "--yes"]) == 0
        out = capsys.readouterr()
        assert "deleted 2 record(s)" in out.out  # the whole one, and the fragment holding alice's pseudonym
        assert path.read_bytes() == b""  # bob's record was glued to alice's fragment: it went with it
