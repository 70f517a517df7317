"""The embedded JSONL store: owner-only files per stream and day, deleted after retention."""

from __future__ import annotations

import os
import stat
from datetime import date, datetime, timezone
from pathlib import Path

import orjson
import pytest

from privlog import Output
from privlog._cli import main
from privlog.sinks.jsonl import JsonlStore, sweep


def output(stream: str, when: datetime, **attrs: object) -> Output:
    return Output(stream, 7, int(when.timestamp() * 1e9), {"event.name": "http.request", **attrs})


class TestJsonlStore:
    def test_writes_one_file_per_stream_and_day_owner_only(self, tmp_path: Path) -> None:
        store = JsonlStore(tmp_path, {"access": 7, "security": 90})
        now = datetime.now(timezone.utc)
        store.write([output("access", now, a=1), output("security", now, b=2), output("access", now, a=3)])
        store.close()
        day = now.date().isoformat()
        access = tmp_path / "access" / f"{day}.jsonl"
        lines = [orjson.loads(x) for x in access.read_bytes().splitlines()]
        assert [x["a"] for x in lines] == [1, 3]
        assert lines[0]["timestamp"].endswith("Z")
        assert stat.S_IMODE(access.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "access").stat().st_mode) == 0o700

    def test_sweep_deletes_only_what_is_past_retention(self, tmp_path: Path) -> None:
        JsonlStore(tmp_path, {"access": 7, "security": 90}).close()
        for stream, day in [
            ("access", "2026-11-18"),
            ("access", "2026-11-19"),
            ("access", "2026-11-20"),
            ("security", "2026-08-01"),
            ("security", "2026-11-19"),
        ]:
            (tmp_path / stream / f"{day}.jsonl").write_text("{}\n")
        (tmp_path / "access" / "notes.txt").write_text("not ours")
        deleted = sweep(tmp_path, today=date(2026, 11, 26))
        assert sorted(p.name for p in deleted) == ["2026-08-01.jsonl", "2026-11-18.jsonl", "2026-11-19.jsonl"]
        assert (tmp_path / "access" / "2026-11-20.jsonl").exists()
        assert (tmp_path / "security" / "2026-11-19.jsonl").exists()
        assert (tmp_path / "access" / "notes.txt").exists()

    def test_day_rollover_sweeps_in_a_running_process(self, tmp_path: Path) -> None:
        store = JsonlStore(tmp_path, {"access": 7})
        old = tmp_path / "access" / "2000-01-01.jsonl"
        old.write_text("{}\n")
        store._swept_on = date(2000, 1, 1)  # as if the process had been running since then
        store.write([output("access", datetime.now(timezone.utc))])
        store.close()
        assert not old.exists()

    def test_cli_sweep_needs_no_policy(self, tmp_path: Path, capsys: object) -> None:
        JsonlStore(tmp_path, {"access": 7}).close()
        (tmp_path / "access" / "2001-01-01.jsonl").write_text("{}\n")
        assert main(["retention", "sweep", str(tmp_path)]) == 0
        assert not (tmp_path / "access" / "2001-01-01.jsonl").exists()

    def test_cli_sweep_refuses_a_folder_that_is_not_a_store(self, tmp_path: Path) -> None:
        assert main(["retention", "sweep", str(tmp_path)]) == 1


class TestACutOffLastLine:
    @pytest.mark.parametrize("pread", [True, False], ids=["pread", "windows-no-pread"])
    def test_the_next_record_starts_on_its_own_line(
        self, tmp_path: Path, pread: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A crash cut the file's last line: the next append starts a new line, so only the cut
        # line is damaged. Windows has no os.pread: the store must not fail there either.
        if not pread:
            monkeypatch.delattr(os, "pread", raising=False)
        store = JsonlStore(tmp_path, {"access": 7})
        now = datetime.now(timezone.utc)
        store.write([output("access", now, a=1)])
        (path,) = (tmp_path / "access").glob("*.jsonl")
        whole = path.read_bytes()
        path.write_bytes(whole + whole[:10])
        store.write([output("access", now, a=2)])
        store.close()
        first, cut, last = path.read_bytes().splitlines()
        assert (first + b"\n", cut) == (whole, whole[:10])
        assert orjson.loads(last)["a"] == 2
        assert store.counts() == (2, 0)


class TestLiveStoreDeletion:
    def test_records_written_after_a_subject_deletion_are_kept(self, tmp_path: Path) -> None:
        from privlog._ops.subject import Match, delete_in_store

        store = JsonlStore(tmp_path, {"access": 7})
        now = datetime.now(timezone.utc)
        store.write(
            [output("access", now, **{"user.id": "p1", "privlog.key_id": "k"}), output("access", now, a=2)]
        )
        assert delete_in_store(tmp_path, [Match("user.id", "p1", "k")]).records
        store.write([output("access", now, a=3), output("access", now, a=4)])  # the store still runs
        store.close()
        (path,) = (tmp_path / "access").glob("*.jsonl")
        assert [orjson.loads(x).get("a") for x in path.read_bytes().splitlines()] == [2, 3, 4]

    def test_records_written_after_the_store_folder_was_deleted_are_kept(self, tmp_path: Path) -> None:
        # With flock the held file is found replaced; with the lock-file fallback (make
        # test-nofcntl) the lock file cannot even be made in the deleted folder: both re-open.
        import shutil

        store = JsonlStore(tmp_path / "store", {"access": 7})
        now = datetime.now(timezone.utc)
        store.write([output("access", now, a=1)])
        shutil.rmtree(tmp_path / "store")
        store.write([output("access", now, a=2)])
        store.write([output("access", now, a=3)])
        store.close()
        (path,) = (tmp_path / "store" / "access").glob("*.jsonl")
        assert [orjson.loads(x).get("a") for x in path.read_bytes().splitlines()] == [2, 3]
        assert store.counts() == (3, 0)
