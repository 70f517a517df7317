"""Portable locking: flock where there is fcntl, a lock file elsewhere; privlog imports without fcntl."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from privlog import _filelock


@pytest.fixture
def lockfile_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """This platform as one without fcntl and msvcrt."""
    monkeypatch.setattr(_filelock, "_fcntl", None)
    monkeypatch.setattr(_filelock, "_msvcrt", None)


class TestMethod:
    def test_the_ci_run_without_fcntl_really_has_none(self) -> None:
        """`make test-nofcntl` blocks fcntl; the lock then falls back to a lock file."""
        expected = "lockfile" if os.environ.get("PRIVLOG_TEST_WITHOUT_FCNTL") else "flock"
        assert expected == _filelock.METHOD

    def test_privlog_imports_and_stores_without_fcntl(self, tmp_path: Path) -> None:
        """As on Windows: no fcntl module at all, and the JSONL store still writes."""
        code = (
            "import sys; sys.modules['fcntl'] = None\n"
            "import privlog, privlog._filelock as f\n"
            "from privlog.sinks.jsonl import JsonlStore\n"
            "from privlog._core.record import Output\n"
            f"s = JsonlStore({str(tmp_path)!r}, {{'access': 7}})\n"
            "s.write([Output('access', 7, 1_700_000_000 * 10**9, {'http.response.status_code': 200})])\n"
            "s.close()\n"
            "print(f.METHOD)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "lockfile"
        (day,) = (tmp_path / "access").glob("*.jsonl")
        assert b'"http.response.status_code":200' in day.read_bytes()
        assert not list((tmp_path / "access").glob(".*.lock"))


@pytest.mark.usefixtures("lockfile_only")
class TestLockFile:
    def test_excludes_other_holders(self, tmp_path: Path) -> None:
        """Read-modify-write under the lock from several threads loses no update."""
        path = tmp_path / "counter"
        path.write_text("0")

        def bump() -> None:
            for _ in range(50):
                fd = os.open(path, os.O_RDWR)
                try:
                    _filelock.lock(fd, path)
                    try:
                        value = int(path.read_text())
                        time.sleep(0)
                        path.write_text(str(value + 1))
                    finally:
                        _filelock.unlock(fd, path)
                finally:
                    os.close(fd)

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert path.read_text() == "200"
        assert not (tmp_path / ".counter.lock").exists()

    def test_breaks_a_lock_left_by_a_dead_process(self, tmp_path: Path) -> None:
        path = tmp_path / "data"
        path.write_text("")
        stale = tmp_path / ".data.lock"
        stale.write_text("")
        old = time.time() - 2 * _filelock._STALE_SECONDS
        os.utime(stale, (old, old))
        fd = os.open(path, os.O_RDWR)
        try:
            _filelock.lock(fd, path)
            assert stale.exists()  # now ours
            _filelock.unlock(fd, path)
        finally:
            os.close(fd)
        assert not stale.exists()

    def test_shared_lock_on_a_read_only_folder_reads_unlocked(self, tmp_path: Path) -> None:
        """A key store on a read-only mount can still be read."""
        if os.geteuid() == 0:
            pytest.skip("root ignores folder permissions")
        path = tmp_path / "store.json"
        path.write_text("{}")
        tmp_path.chmod(0o500)
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                _filelock.lock(fd, path, shared=True)
                _filelock.unlock(fd, path)
            finally:
                os.close(fd)
        finally:
            tmp_path.chmod(0o700)
