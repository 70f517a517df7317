"""Key epochs, the ratcheting key store, crypto-shredding and data-subject lookups."""

from __future__ import annotations

import base64
import copy
import errno
import logging
import os
import re
import stat
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from privlog import ConfigurationError, Pipeline, Policy, PolicyError
from privlog._cli import main
from privlog._core.capture import Capture
from privlog._keys.epochs import KeyShredded, StaticKeys, epoch_label, epoch_of, today_utc
from privlog._keys.epochs import ratchet as _ratchet
from privlog._keys.ring import KeyRing, derive
from privlog._keys.store import KeyStore
from privlog._ops.subject import delete_in_store, find_in_store, subject_matches
from privlog.sinks.jsonl import JsonlStore

from ..support.policies import ENV, FULL

D0 = date(2026, 10, 1)


def ns(d: date, hour: int = 12) -> int:
    return int(datetime(d.year, d.month, d.day, hour, tzinfo=timezone.utc).timestamp()) * 1_000_000_000


class TestEpochs:
    @pytest.mark.parametrize(
        ("rotation", "label"),
        [("daily", "2026-11-26"), ("weekly", "2026-W48"), ("monthly", "2026-11"), ("never", "static")],
    )
    def test_labels(self, rotation: str, label: str) -> None:
        assert epoch_label(rotation, epoch_of(rotation, ns(date(2026, 11, 26)))) == label

    def test_weeks_start_on_monday(self) -> None:
        assert epoch_of("weekly", ns(date(2026, 11, 22))) + 1 == epoch_of("weekly", ns(date(2026, 11, 23)))
        assert epoch_of("weekly", ns(date(2026, 11, 23))) == epoch_of("weekly", ns(date(2026, 11, 29)))

    def test_static_secret_with_daily_rotation_unlinks_days(self) -> None:
        keys = StaticKeys(b"s" * 32, "daily")
        a = keys.ring_for(ns(date(2026, 11, 25))).pseudonymiser("user_id")(b"alice")
        b = keys.ring_for(ns(date(2026, 11, 26))).pseudonymiser("user_id")(b"alice")
        c = keys.ring_for(ns(date(2026, 11, 26), 23)).pseudonymiser("user_id")(b"alice")
        assert a != b
        assert b == c


class TestKeyStore:
    def test_store_is_owner_only(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path / "keys", "daily", 30)
        assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "keys" / "keys.json").stat().st_mode) == 0o600

    def test_init_refuses_to_overwrite(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 30)
        with pytest.raises(ConfigurationError, match="already exists"):
            KeyStore.init(tmp_path, "daily", 30)

    def test_two_processes_compute_the_same_pseudonym(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 30, today=D0)
        code = (
            "import sys; from privlog._keys.store import KeyStore; "
            "s = KeyStore.load(sys.argv[1]); s._checked = object(); "
            "print(s.ring_for_epoch(int(sys.argv[2])).pseudonymiser('user_id')(b'alice'))"
        )
        epoch = epoch_of("daily", ns(D0)) + 3
        outs = {
            subprocess.run(
                [sys.executable, "-c", code, str(tmp_path), str(epoch)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for _ in range(2)
        }
        (out,) = outs
        assert out.strip() == KeyStore.load(tmp_path).ring_for_epoch(epoch).pseudonymiser("user_id")(b"alice")

    def test_keys_differ_by_epoch_and_key_ids_name_the_epoch(self, tmp_path: Path) -> None:
        store = KeyStore.init(tmp_path, "daily", 30, today=D0)
        a, b = (
            store.ring_for_epoch(epoch_of("daily", ns(D0))),
            store.ring_for_epoch(epoch_of("daily", ns(D0)) + 1),
        )
        assert a.pseudonymiser("user_id")(b"x") != b.pseudonymiser("user_id")(b"x")
        assert re.fullmatch(r"2026-10-01\.[0-9a-f]{4}\.[0-9a-f]{8}", a.key_id)

    def test_shred_makes_old_pseudonyms_impossible_to_recompute_from_disk(self, tmp_path: Path) -> None:
        store = KeyStore.init(tmp_path, "daily", 7, today=D0)
        old_epoch = epoch_of("daily", ns(D0))
        old = store.ring_for_epoch(old_epoch).pseudonymiser("user_id")(b"alice")
        kept_epoch = old_epoch + 5  # its records live until D0 + 13
        kept = store.ring_for_epoch(kept_epoch).pseudonymiser("user_id")(b"alice")
        assert store.shred(today=date(2026, 10, 11)) == [f"2026-10-0{i}" for i in (1, 2, 3)]
        reloaded = KeyStore.load(tmp_path)
        with pytest.raises(KeyShredded):
            reloaded.ring_for_epoch(old_epoch)
        assert reloaded.ring_for_epoch(kept_epoch).pseudonymiser("user_id")(b"alice") == kept
        # Every key state on disk, ratcheted forward any number of steps, never gives the old key back.
        on_disk = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
        states = [base64.b64decode(c["state"]) for c in orjson.loads(on_disk)["chains"]]
        for state in states:
            for steps in range(200):
                ring = KeyRing(derive(_ratchet(state, steps), "privlog epoch key"))
                assert ring.pseudonymiser("user_id")(b"alice") != old

    def test_cli_shred_destroys_keys_past_retention(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=D0)
        assert main(["keys", "shred", str(tmp_path)]) == 0  # today is long after D0 + 7 days
        assert "shredded" in capsys.readouterr().out
        with pytest.raises(KeyShredded):
            KeyStore.load(tmp_path).ring_for_epoch(epoch_of("daily", ns(D0)))

    def test_status_lists_held_epochs(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        KeyStore.init(tmp_path, "monthly", 400, today=date(2026, 9, 15))
        assert main(["keys", "status", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        for month in ("2026-09", "2026-10", "2026-11"):
            assert f"epoch {month}" in out

    def test_rotate_starts_a_new_chain_and_keeps_the_old_for_lookups(self, tmp_path: Path) -> None:
        store = KeyStore.init(tmp_path, "daily", 30, today=date(2026, 11, 20))
        before = store.ring_for_epoch(epoch_of("daily", ns(date(2026, 11, 26)))).key_id
        after = store.rotate()
        assert before != after
        assert before.split(".")[1] != after.split(".")[1]  # another chain
        assert before in {h.key_id for h in KeyStore.load(tmp_path).held()}

    def test_start_up_refuses_a_store_keeping_keys_shorter_than_records(self, tmp_path: Path) -> None:
        # Validation only checks the store is there; building the pipeline opens and checks it.
        KeyStore.init(tmp_path, "daily", 30)
        data = {**copy.deepcopy(FULL), "secret": {"store": str(tmp_path)}}
        policy = Policy.from_dict(data, environ={})
        with pytest.raises(
            ConfigurationError, match=r"secret.store: .* 30 days, but a keyed stream keeps records 90 days"
        ):
            Pipeline(policy)

    @pytest.mark.parametrize(("ahead", "keyed"), [(1, 10), (2, 0)])
    def test_records_before_the_first_epoch_are_keyed_within_a_day_else_counted_and_warned(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture, ahead: int, keyed: int
    ) -> None:
        # A host whose clock ran ahead created the store: its first key starts in the future.
        KeyStore.init(tmp_path, "daily", 90, today=today_utc() + timedelta(days=ahead))
        data = {**copy.deepcopy(FULL), "secret": {"store": str(tmp_path)}, "export": {"flush_interval": 60}}
        from privlog import PrivacyLog

        from ..support.sinks import ListSink

        sink = ListSink()
        pl = PrivacyLog(Policy.from_dict(data, environ={}), sinks=[sink])
        with caplog.at_level(logging.WARNING, "privlog"):
            for i in range(10):
                pl.auth_event("logout", user_id=f"u{i}")
            pl.flush()
        stats = pl.stats()
        pl.close()
        assert (stats.captured, stats.exported, stats.unkeyed) == (10, keyed, 10 - keyed)
        if not keyed:
            assert caplog.text.count("skipped by keyed streams") == 1  # once, not per record
            assert "the key store starts at" in caplog.text
            assert "docs/keys.md" in caplog.text

    def test_missing_store_is_a_start_up_error(self, tmp_path: Path) -> None:
        data = {**copy.deepcopy(FULL), "secret": {"store": str(tmp_path / "nope")}}
        with pytest.raises(PolicyError, match=r"secret.store: no key store.*privlog keys init"):
            Policy.from_dict(data, environ={})


def days_ago(n: int) -> date:
    return today_utc() - timedelta(days=n)


def daily(d: date) -> int:
    return epoch_of("daily", ns(d))


def chains_on_disk(directory: Path) -> list[dict[str, object]]:
    return orjson.loads((directory / "keys.json").read_bytes())["chains"]  # type: ignore[no-any-return]


class TestStoreChanges:
    """Key ids stay stable, changes by one process reach the others, and only the real clock shreds."""

    def test_key_ids_do_not_change_when_an_old_chain_is_dropped(self, tmp_path: Path) -> None:
        store = KeyStore.init(tmp_path, "daily", 7, today=days_ago(12))
        store.rotate(today=days_ago(9))
        key_id = store.ring_for_epoch(daily(days_ago(5))).key_id
        store.shred(today=today_utc())  # every epoch of the first chain has expired
        assert len(chains_on_disk(tmp_path)) == 1
        assert store.ring_for_epoch(daily(days_ago(5))).key_id == key_id
        reloaded = KeyStore.load(tmp_path)
        assert reloaded.ring_for_epoch(daily(days_ago(5))).key_id == key_id
        assert key_id in {h.key_id for h in reloaded.held()}

    def test_a_store_written_without_chain_ids_gets_stable_ones(self, tmp_path: Path) -> None:
        store = KeyStore.init(tmp_path, "daily", 7, today=days_ago(12))
        store.rotate(today=days_ago(9))
        data = orjson.loads((tmp_path / "keys.json").read_bytes())
        for chain in data["chains"]:
            del chain["id"]
        (tmp_path / "keys.json").write_bytes(orjson.dumps(data))
        old = KeyStore.load(tmp_path)
        key_id = old.ring_for_epoch(daily(days_ago(5))).key_id
        assert KeyStore.load(tmp_path).ring_for_epoch(daily(days_ago(5))).key_id == key_id
        old.shred(today=today_utc())
        assert [c["id"] for c in chains_on_disk(tmp_path)] == [key_id.split(".")[1]]
        assert KeyStore.load(tmp_path).ring_for_epoch(daily(days_ago(5))).key_id == key_id

    def test_a_running_process_does_not_undo_a_rotation(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=days_ago(10))
        app = KeyStore.load(tmp_path)
        app.ring_for_epoch(daily(days_ago(1)))
        admin = KeyStore.load(tmp_path)
        rotated = admin.rotate(today=days_ago(1))
        assert app.shred(today=today_utc())  # the app's daily shred, a day later
        assert [c["id"] for c in chains_on_disk(tmp_path)][-1] == rotated.split(".")[1]
        assert app.ring_for(ns(today_utc())).key_id == admin.ring_for_epoch(daily(today_utc())).key_id
        assert app.ring_for_epoch(daily(days_ago(1))).key_id == rotated

    def test_a_running_process_takes_a_rotation_at_its_daily_check(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=days_ago(10))
        app = KeyStore.load(tmp_path)
        app._checked = days_ago(1)  # running since yesterday
        app._seen_day = daily(days_ago(1))
        old = app.ring_for_epoch(daily(today_utc())).key_id
        new = KeyStore.load(tmp_path).rotate()
        assert app.ring_for(ns(today_utc())).key_id == new != old
        assert len(chains_on_disk(tmp_path)) == 2

    def test_housekeeping_on_a_timer_takes_a_rotation_the_same_day(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=days_ago(2))
        app = KeyStore.load(tmp_path)
        assert app.housekeeping() == []
        new = KeyStore.load(tmp_path).rotate()
        assert app.housekeeping() == []
        assert app.ring_for(ns(today_utc())).key_id == new

    def test_concurrent_rotations_are_all_kept(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 7)
        stores = [KeyStore.load(tmp_path) for _ in range(4)]

        def rotate(store: KeyStore) -> None:
            for _ in range(5):
                store.rotate()

        threads = [threading.Thread(target=rotate, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [c["id"] for c in chains_on_disk(tmp_path)]
        assert len(ids) == len(set(ids)) == 21

    def test_a_restored_copy_does_not_bring_shredded_keys_back(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=days_ago(10))
        backup = (tmp_path / "keys.json").read_bytes()
        app = KeyStore.load(tmp_path)
        assert app.shred(today=today_utc())
        (tmp_path / "keys.json").write_bytes(backup)  # an old copy comes back
        app.rotate()  # any change by the process that shredded writes its ratchet back
        with pytest.raises(KeyShredded):
            KeyStore.load(tmp_path).ring_for_epoch(daily(days_ago(10)))

    def test_a_future_timestamp_does_not_shred_current_keys(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 30, today=days_ago(1))
        store = KeyStore.load(tmp_path)
        now = today_utc()
        current = store.ring_for(ns(now)).key_id
        with pytest.raises(KeyShredded, match="future"):  # a clock a year ahead, or a bogus timestamp
            store.ring_for(ns(now + timedelta(days=365)))
        assert store.ring_for(ns(now)).key_id == current
        reloaded = KeyStore.load(tmp_path)
        assert reloaded.ring_for_epoch(daily(now)).key_id == current
        assert epoch_label("daily", daily(now)) in {h.label for h in reloaded.held(now)}

    def test_a_record_of_a_shredded_epoch_raises(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=days_ago(20))
        store = KeyStore.load(tmp_path)
        with pytest.raises(KeyShredded):
            store.ring_for(ns(days_ago(20)))
        store.ring_for(ns(days_ago(3)))

    def test_housekeeping_shreds_once_per_real_day(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=days_ago(10))
        store = KeyStore.load(tmp_path)
        today = today_utc()
        assert store.housekeeping(today) == [epoch_label("daily", daily(days_ago(n))) for n in (10, 9, 8)]
        mtime = (tmp_path / "keys.json").stat().st_mtime_ns
        assert store.housekeeping(today) == []
        assert (tmp_path / "keys.json").stat().st_mtime_ns == mtime
        assert store.housekeeping(today + timedelta(days=1)) == [epoch_label("daily", daily(days_ago(7)))]

    def test_a_lost_store_still_shreds_in_memory(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=days_ago(10))
        store = KeyStore.load(tmp_path)
        (tmp_path / "keys.json").unlink()
        with caplog.at_level(logging.WARNING, logger="privlog"):
            store.ring_for(ns(today_utc()))
        assert "housekeeping failed (ConfigurationError)" in caplog.text
        with pytest.raises(KeyShredded):
            store.ring_for_epoch(daily(days_ago(10)))

    def test_a_read_only_store_is_reread_and_shredded_in_memory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        KeyStore.init(tmp_path, "daily", 7, today=days_ago(10))
        app = KeyStore.load(tmp_path)
        new = KeyStore.load(tmp_path).rotate()
        before = (tmp_path / "keys.json").read_bytes()
        real_open = os.open

        def read_only(path: str, flags: int, *args: int) -> int:
            if flags & (os.O_RDWR | os.O_WRONLY):
                raise PermissionError(errno.EROFS, "read-only file system")
            return real_open(path, flags, *args)

        monkeypatch.setattr(os, "open", read_only)
        with caplog.at_level(logging.WARNING, logger="privlog"):
            assert app.ring_for(ns(today_utc())).key_id == new
        assert "housekeeping failed (PermissionError)" in caplog.text
        with pytest.raises(KeyShredded):
            app.ring_for_epoch(daily(days_ago(10)))
        assert (tmp_path / "keys.json").read_bytes() == before

    def test_no_repr_shows_key_material(self, tmp_path: Path) -> None:
        store = KeyStore.init(tmp_path, "daily", 7)
        store.rotate()
        shown = repr(store) + repr(store._chains) + repr(store.held())
        for chain in chains_on_disk(tmp_path):
            state = base64.b64decode(str(chain["state"]))
            for form in (str(chain["state"]), repr(state), state.hex()):
                assert form not in shown


def auth(user: str, when: int) -> Capture:
    return Capture.auth("login_success", when, user)


class TestSubject:
    def test_finds_and_deletes_exactly_one_users_records(self, tmp_path: Path) -> None:
        # Relative to the real date: the pipeline shreds expired keys by the real clock.
        start = today_utc() - timedelta(days=6)
        KeyStore.init(tmp_path / "keys", "daily", 90, today=start)
        policy = Policy.from_dict(
            {**copy.deepcopy(FULL), "secret": {"store": str(tmp_path / "keys")}}, environ={}
        )
        pipeline = Pipeline(policy)
        store = JsonlStore(tmp_path / "logs", {"security": 90, "analytics": 7})
        users = [f"user{i}@example.com" for i in range(50)]
        outputs = []
        for day in (0, 3, 6):
            for u in users:
                outputs += pipeline.process(auth(u, ns(start + timedelta(days=day))))
        store.write(outputs)
        store.close()
        matches = subject_matches(policy, user_id="user7@example.com", today=start + timedelta(days=6))
        assert len({m.key_id for m in matches}) == 7  # one per day held, start to start + 6
        found = find_in_store(tmp_path / "logs", matches)
        assert sum(found.records.values()) == 3
        deleted = delete_in_store(tmp_path / "logs", matches)
        assert sum(deleted.records.values()) == 3
        assert find_in_store(tmp_path / "logs", matches).records == {}
        remaining = [
            orjson.loads(x) for p in (tmp_path / "logs").rglob("*.jsonl") for x in p.read_bytes().splitlines()
        ]
        assert len(remaining) == 3 * 49
        for p in (tmp_path / "logs").rglob("*.jsonl"):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600

    def test_ip_lookup_with_a_static_secret(self, tmp_path: Path) -> None:
        policy = Policy.from_dict(FULL, environ=ENV)
        (match,) = subject_matches(policy, ip="203.0.113.195")
        assert match.attribute == "privlog.client.address"
        assert len(match.value) == 32

    def test_cli_prints_pseudonyms_and_queries(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PRIVLOG_SECRET", ENV["PRIVLOG_SECRET"])
        policy_file = Path(__file__).parents[2] / "examples" / "security-90-days.toml"
        assert (
            main(
                [
                    "subject",
                    "--policy",
                    str(policy_file),
                    "--user-id",
                    "alice@example.com",
                    "--store",
                    str(tmp_path),
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "user.id = " in out
        assert "ClickHouse" in out
        assert "alice@example.com" not in out.split("elsewhere:")[1]
        os.environ.pop("PRIVLOG_KEY_STORE", None)


class TestFutureTimestamps:
    def test_a_far_future_record_is_refused_quickly_and_harms_nothing(self, tmp_path: Path) -> None:
        import time

        store = KeyStore.init(tmp_path, "daily", 30)
        now_ns = time.time_ns()
        today_key = store.ring_for(now_ns).key_id
        started = time.perf_counter()
        with pytest.raises(KeyShredded, match="future"):
            store.ring_for(now_ns + 3000 * 365 * 86_400 * 1_000_000_000)
        assert time.perf_counter() - started < 0.5
        assert store.ring_for(now_ns).key_id == today_key
