"""Retention counted from each visitor's last visit, and legal holds, with a simulated clock."""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from privlog import Policy, PolicyError, PrivacyLog
from privlog._cli import main
from privlog._core.capture import Capture
from privlog._ops.holds import place_hold, subject_pseudonyms
from privlog._ops.subject import delete_in_store, subject_matches
from privlog.asgi import read_asgi_scope
from privlog.sinks.holdlog import HoldLog
from privlog.sinks.jsonl import JsonlStore, sweep
from privlog.sinks.lastvisit import INDEX_FILE

from ..support.policies import ENV, SECRET

DAY0 = datetime.now(timezone.utc).date()  # records are written "in the future", so no real sweep touches them

TWO_YEARS: dict[str, Any] = {
    "service": "shop",
    "retention": {
        "behaviour": {
            "days": 730,
            "from": "last_visit",
            "subject": "user_id",
            "purpose": "improving the website from how visitors navigate it",
            "legal_basis": "consent, Art. 6(1)(a) GDPR",
        }
    },
    "streams": {
        "analytics": {
            "retention": "behaviour",
            "consent_gated": True,
            "fields": {"path": "template", "status": "keep", "user_id": "pseudonymise"},
        }
    },
}


def at(day: int) -> int:
    moment = datetime.combine(DAY0 + timedelta(days=day), datetime.min.time(), tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + 3_600 * 1_000_000_000


def visit(privlog: PrivacyLog, user: str | None, day: int) -> None:
    scope = {"type": "http", "method": "GET", "path": "/shop", "headers": [], "client": ("127.0.0.1", 1)}
    privlog.submit(
        Capture.of("http", reader=read_asgi_scope, source=scope, start_ns=at(day), status=200, user_id=user)
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[PrivacyLog, Path]]:
    policy = Policy.from_dict(TWO_YEARS, environ=ENV)
    directory = tmp_path / "store"
    sink = JsonlStore(directory, {"analytics": 730}, {"analytics": "last_visit"})
    privlog = PrivacyLog(policy, sinks=[sink])
    yield privlog, directory
    privlog.close()


def stored(directory: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted(directory.glob("*/*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


def users(directory: Path, policy: Policy) -> dict[str, int]:
    """How many records of each of the test's users are stored."""
    out = {}
    for name in ("alice", "bob", "carol"):
        values = {m.value for m in subject_matches(policy, user_id=name)}
        out[name] = sum(r.get("user.id") in values for r in stored(directory))
    return out


class TestPolicy:
    def test_records_carry_the_basis_and_a_stable_subject(self, store: tuple[PrivacyLog, Path]) -> None:
        privlog, directory = store
        visit(privlog, "alice", 0)
        visit(privlog, "alice", 500)
        privlog.flush()
        first, second = stored(directory)
        assert first["privlog.retention.from"] == "last_visit"
        assert first["privlog.retention.subject_id"] == second["privlog.retention.subject_id"]
        assert "alice" not in orjson.dumps([first, second]).decode()

    @pytest.mark.parametrize(
        ("change", "setting"),
        [
            ({"from": "last_visit", "subject": None}, "retention.behaviour.subject"),
            ({"from": "first_visit"}, "retention.behaviour.from"),
            ({"from": "record", "subject": "user_id"}, "retention.behaviour.subject"),
            ({"subject": "email"}, "retention.behaviour.subject"),
        ],
    )
    def test_a_wrong_basis_is_refused(self, change: dict[str, Any], setting: str) -> None:
        data = copy.deepcopy(TWO_YEARS)
        data["retention"]["behaviour"].update({k: v for k, v in change.items() if v is not None})
        for k, v in change.items():
            if v is None:
                del data["retention"]["behaviour"][k]
        with pytest.raises(PolicyError, match=rf"^{setting}"):
            Policy.from_dict(data, environ=ENV)

    @pytest.mark.parametrize("action", ["keep", None])
    def test_the_subject_must_be_recorded_with_a_key(self, action: str | None) -> None:
        data = copy.deepcopy(TWO_YEARS)
        fields = data["streams"]["analytics"]["fields"]
        if action is None:
            del fields["user_id"]
        else:
            fields["user_id"] = action
        with pytest.raises(PolicyError, match=r"streams.analytics.fields.user_id: .*keyed action"):
            Policy.from_dict(data, environ=ENV)


class TestSweep:
    """A subject seen on day 0 and day 500 keeps both records until day 1,230; one seen only
    on day 0 loses its record on day 730."""

    def test_counted_from_the_last_visit(self, store: tuple[PrivacyLog, Path]) -> None:
        privlog, directory = store
        for user, day in (("alice", 0), ("alice", 500), ("bob", 0), (None, 0), (None, 800)):
            visit(privlog, user, day)
        privlog.flush()
        policy = privlog.policy
        assert users(directory, policy) == {"alice": 2, "bob": 1, "carol": 0}
        sweep(directory, DAY0 + timedelta(days=729))
        assert users(directory, policy) == {"alice": 2, "bob": 1, "carol": 0}
        assert len(stored(directory)) == 5
        sweep(directory, DAY0 + timedelta(days=730))
        assert users(directory, policy) == {"alice": 2, "bob": 0, "carol": 0}
        assert len(stored(directory)) == 3  # the anonymous day-0 record expired by its own day
        sweep(directory, DAY0 + timedelta(days=1229))
        assert users(directory, policy) == {"alice": 2, "bob": 0, "carol": 0}
        sweep(directory, DAY0 + timedelta(days=1230))
        assert users(directory, policy) == {"alice": 0, "bob": 0, "carol": 0}
        assert len(stored(directory)) == 1  # the anonymous day-800 record
        index = orjson.loads((directory / "analytics" / INDEX_FILE).read_bytes())
        assert index == {}  # expired subjects leave the index too

    def test_the_index_is_owner_only_and_kept_by_the_running_store(
        self, store: tuple[PrivacyLog, Path]
    ) -> None:
        privlog, directory = store
        visit(privlog, "alice", 3)
        privlog.flush()
        path = directory / "analytics" / INDEX_FILE
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert list(orjson.loads(path.read_bytes()).values()) == [(DAY0 - date(1970, 1, 1)).days + 3]

    def test_a_lost_index_is_rebuilt_from_the_records(self, store: tuple[PrivacyLog, Path]) -> None:
        privlog, directory = store
        visit(privlog, "alice", 0)
        visit(privlog, "alice", 600)
        privlog.flush()
        (directory / "analytics" / INDEX_FILE).unlink()
        sweep(directory, DAY0 + timedelta(days=1000))
        assert users(directory, privlog.policy)["alice"] == 2


class TestLegalHolds:
    def test_a_held_subject_keeps_everything_until_the_hold_is_released(
        self, store: tuple[PrivacyLog, Path]
    ) -> None:
        privlog, directory = store
        for user, day in (("alice", 0), ("bob", 0), ("bob", 100)):
            visit(privlog, user, day)
        privlog.flush()
        log = HoldLog(directory)
        hold = place_hold(
            privlog.policy, log, reason="dispute 2026-17", until=DAY0 + timedelta(days=2000), user_id="bob"
        )
        assert hold.subjects == tuple(subject_pseudonyms(privlog.policy, user_id="bob"))
        raw = log.path.read_bytes()
        assert b"bob" not in raw
        assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
        sweep(directory, DAY0 + timedelta(days=1500))
        assert users(directory, privlog.policy) == {"alice": 0, "bob": 2, "carol": 0}
        log.release(hold.id)
        sweep(directory, DAY0 + timedelta(days=1500))
        assert users(directory, privlog.policy) == {"alice": 0, "bob": 0, "carol": 0}
        assert [h.released is not None for h in log.holds()] == [True]  # the log keeps the history

    def test_erasure_keeps_held_records(self, store: tuple[PrivacyLog, Path]) -> None:
        privlog, directory = store
        visit(privlog, "bob", 1)
        privlog.flush()
        place_hold(
            privlog.policy,
            HoldLog(directory),
            reason="court order",
            until=DAY0 + timedelta(days=30),
            user_id="bob",
        )
        delete_in_store(directory, subject_matches(privlog.policy, user_id="bob"))
        assert users(directory, privlog.policy)["bob"] == 1

    def test_the_command_line(
        self,
        store: tuple[PrivacyLog, Path],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        _, directory = store
        policy_file = tmp_path / "policy.toml"
        policy_file.write_text(
            '[retention.behaviour]\ndays = 730\nfrom = "last_visit"\nsubject = "user_id"\n'
            'purpose = "p"\nlegal_basis = "consent"\n'
            '[streams.analytics]\nretention = "behaviour"\n[streams.analytics.fields]\nuser_id = "pseudonymise"\n'
        )
        monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
        until = (date.today() + timedelta(days=10)).isoformat()
        store_arg = ["--store", str(directory)]
        assert (
            main(
                [
                    "hold",
                    "add",
                    "--policy",
                    str(policy_file),
                    "--user-id",
                    "bob",
                    "--reason",
                    "dispute",
                    "--until",
                    until,
                    *store_arg,
                ]
            )
            == 0
        )
        hold_id = capsys.readouterr().out.split()[2]
        assert main(["hold", "list", *store_arg]) == 0
        listing = capsys.readouterr().out
        assert hold_id in listing
        assert "dispute" in listing
        assert main(["hold", "release", hold_id, *store_arg]) == 0
        assert main(["hold", "list", *store_arg]) == 0
        assert "no active holds" in capsys.readouterr().out


class TestExplained:
    """The shipped two-year policy is checked, explained in both languages, and a hold shows."""

    POLICY = Path(__file__).parents[2] / "examples" / "analytics-2-years.toml"

    def test_the_notice_says_it_counts_from_the_last_visit(self, tmp_path: Path) -> None:
        from privlog._notice.explain import explain

        policy = Policy.from_toml(self.POLICY, environ=ENV)
        assert policy.streams[0].retention.subject == "session_id"
        en = " ".join(explain(policy, "en", "text").split())  # plain text is wrapped
        de = " ".join(explain(policy, "de", "text").split())
        assert "deleted 730 days after your last visit" in en
        assert "730 Tagen nach Ihrem letzten Besuch gelöscht" in de
        assert "legal hold" not in en
        held = Policy.from_dict({**TWO_YEARS, "export": {"directory": str(tmp_path)}}, environ=ENV)
        place_hold(held, HoldLog(tmp_path), reason="dispute", until=DAY0 + timedelta(days=5), user_id="bob")
        assert "(a legal hold)" in " ".join(explain(held, "en", "text").split())


class TestSubjectRequests:
    def test_a_subject_is_found_by_its_last_visit_pseudonym_too(self, store: tuple[PrivacyLog, Path]) -> None:
        privlog, directory = store
        visit(privlog, "alice", 1)
        visit(privlog, "bob", 1)
        privlog.flush()
        matches = subject_matches(privlog.policy, user_id="alice")
        assert any(m.attribute == "privlog.retention.subject_id" for m in matches)
        # Even where the per-epoch pseudonym no longer matches (its key shredded), the subject does.
        for path in directory.glob("*/*.jsonl"):
            path.write_bytes(path.read_bytes().replace(b'"user.id":"', b'"user.id":"x'))
        delete_in_store(directory, matches)
        remaining = stored(directory)
        assert len(remaining) == 1
        assert remaining[0]["privlog.retention.subject_id"] in subject_pseudonyms(
            privlog.policy, user_id="bob"
        )


class TestClickHouseSweepCommand:
    def test_sends_the_sweep_with_the_holds_to_the_server(self, store: tuple[PrivacyLog, Path]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        privlog, directory = store
        hold = place_hold(
            privlog.policy,
            HoldLog(directory),
            reason="audit",
            until=date.today() + timedelta(days=9),
            user_id="bob",
        )
        received: list[bytes] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            assert main(["retention", "sweep", "--clickhouse", url, "--holds", str(directory)]) == 0
        finally:
            server.shutdown()
            server.server_close()
        (statement,) = received
        assert statement.startswith(b"ALTER TABLE `otel_logs` DELETE WHERE RetentionFrom = 'last_visit'")
        assert f"NOT IN ('{hold.subjects[0]}')".encode() in statement

    @pytest.mark.parametrize("credentials", ["", "sweeper:s3cr3t-pw@"])
    def test_an_unreachable_server_exits_5_naming_the_host_only(
        self, credentials: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Nothing was swept: an IO failure (5), not "nothing to do" (1); a password in the URL
        never reaches the terminal."""
        import socket

        with socket.socket() as sock:  # a port that was just free: nothing listens on it
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://{credentials}127.0.0.1:{port}/"
        assert main(["retention", "sweep", "--clickhouse", url, "--timeout", "5"]) == 5
        err = capsys.readouterr().err
        assert f"ClickHouse at 127.0.0.1:{port} did not run the sweep" in err
        assert "sweeper" not in err
        assert "s3cr3t-pw" not in err


class TestHeldKeys:
    def test_a_hold_keeps_its_keys_from_shredding_until_released(self, tmp_path: Path) -> None:
        from privlog._keys.store import KeyStore
        from privlog._ops.holds import release_hold

        day0 = date(2026, 1, 5)
        KeyStore.init(tmp_path / "keys", "daily", 7, today=day0)
        data = copy.deepcopy(TWO_YEARS)
        data["retention"] = {
            "access": {"days": 7, "purpose": "security", "legal_basis": "legitimate interest"}
        }
        data["streams"]["analytics"]["retention"] = "access"
        data["secret"] = {"store": str(tmp_path / "keys")}
        policy = Policy.from_dict(data, environ={})
        log = HoldLog(tmp_path / "store")
        hold = place_hold(
            policy,
            log,
            reason="dispute",
            until=day0 + timedelta(days=60),
            user_id="bob",
            today=day0 + timedelta(days=1),
        )
        held_ids = {k for _, _, k in hold.pseudonyms}
        assert held_ids
        store = KeyStore.load(tmp_path / "keys")
        store.shred(today=day0 + timedelta(days=30))
        assert held_ids <= {h.key_id for h in store.held(day0 + timedelta(days=30))}
        release_hold(log, hold.id, today=day0 + timedelta(days=31))
        store.shred(today=day0 + timedelta(days=31))
        assert not held_ids & {h.key_id for h in store.held(day0 + timedelta(days=31))}
