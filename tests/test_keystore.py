"""Key epochs, the ratcheting key store, crypto-shredding and data-subject lookups."""

from __future__ import annotations

import base64
import copy
import os
import stat
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import orjson
import pytest

from privlog import Policy, PolicyError, compile_policy
from privlog._capture import Capture
from privlog._keys import KeyRing, derive
from privlog._keystore import KeyShredded, KeyStore, StaticKeys, _ratchet, epoch_label, epoch_of
from privlog._subject import delete_in_store, find_in_store, subject_matches
from privlog.cli import main
from privlog.sinks.jsonl import JsonlStore

from .conftest import ENV, FULL

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
        with pytest.raises(PolicyError, match="already exists"):
            KeyStore.init(tmp_path, "daily", 30)

    def test_two_processes_compute_the_same_pseudonym(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 30, today=D0)
        code = (
            "import sys; from privlog._keystore import KeyStore; "
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
        assert a.key_id.startswith("2026-10-01.g0.")

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
        assert ".g1." in after
        assert before in {h.key_id for h in KeyStore.load(tmp_path).held()}

    def test_policy_refuses_a_store_keeping_keys_shorter_than_records(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path, "daily", 30)
        data = {**copy.deepcopy(FULL), "secret": {"store": str(tmp_path)}}
        with pytest.raises(
            PolicyError, match=r"secret.store: .* 30 days, but a keyed stream keeps records 90 days"
        ):
            Policy.from_dict(data, environ={})

    def test_missing_store_is_a_start_up_error(self, tmp_path: Path) -> None:
        data = {**copy.deepcopy(FULL), "secret": {"store": str(tmp_path / "nope")}}
        with pytest.raises(PolicyError, match=r"secret.store: no key store.*privlog keys init"):
            Policy.from_dict(data, environ={})


def auth(user: str, when: int) -> Capture:
    return Capture("auth", None, None, when, 0, None, None, None, user, {"event": "login_success"})


class TestSubject:
    def test_finds_and_deletes_exactly_one_users_records(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path / "keys", "daily", 90, today=date(2026, 11, 20))
        policy = Policy.from_dict(
            {**copy.deepcopy(FULL), "secret": {"store": str(tmp_path / "keys")}}, environ={}
        )
        pipeline = compile_policy(policy)
        store = JsonlStore(tmp_path / "logs", {"security": 90, "analytics": 7})
        users = [f"user{i}@example.com" for i in range(50)]
        outputs = []
        for day in (20, 23, 26):
            for u in users:
                outputs += pipeline.process(auth(u, ns(date(2026, 11, day))))
        store.write(outputs)
        store.close()
        matches = subject_matches(policy, user_id="user7@example.com", today=date(2026, 11, 26))
        assert len({m.key_id for m in matches}) == 7  # one per day held, 20th to 26th
        found = find_in_store(tmp_path / "logs", matches)
        assert sum(found.values()) == 3
        deleted = delete_in_store(tmp_path / "logs", matches)
        assert sum(deleted.values()) == 3
        assert find_in_store(tmp_path / "logs", matches) == {}
        remaining = [
            orjson.loads(x) for p in (tmp_path / "logs").rglob("*.jsonl") for x in p.read_bytes().splitlines()
        ]
        assert len(remaining) == 3 * 49
        for p in (tmp_path / "logs").rglob("*.jsonl"):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600

    def test_ip_lookup_with_a_static_secret(self, tmp_path: Path) -> None:
        policy = Policy.from_dict(FULL, environ=ENV)
        (match,) = subject_matches(policy, ip="203.0.113.195")
        assert match.attribute == "client.address"
        assert len(match.value) == 32

    def test_cli_prints_pseudonyms_and_queries(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PRIVLOG_SECRET", ENV["PRIVLOG_SECRET"])
        policy_file = Path(__file__).parent.parent / "examples" / "security-90-days.toml"
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
