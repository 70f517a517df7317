"""``privlog audit``: a store planted with each kind of violation, and a clean store privlog wrote itself."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from privlog._cli import main
from privlog._core.capture import Capture
from privlog._core.pipeline import Pipeline
from privlog._keys.store import KeyStore
from privlog._notice.explain import load_policy
from privlog._ops.audit import KINDS, audit_store, classify
from privlog.asgi import read_asgi_scope
from privlog.sinks.jsonl import JsonlStore

from ..support.requests import capture, scope

EXAMPLES = Path(__file__).parents[2] / "examples"
SECRET = "s" * 20 + "0123456789abcdefghij"
ENV = {"PRIVLOG_SECRET": SECRET}


def visitor_scope(**kw: Any) -> dict[str, Any]:
    """The test request, with a visitor cookie beside the session cookie."""
    sc = scope(**kw)
    sc["headers"] = [(k, v + b"; visitor=v-4711" if k == b"cookie" else v) for k, v in sc["headers"]]
    return sc


def write_store(directory: Path, policy_name: str, environ: dict[str, str] | None = None) -> Any:
    """A store written by privlog's own pipeline from an example policy: HTTP, WebSocket and auth records."""
    policy = load_policy(EXAMPLES / f"{policy_name}.toml", environ=environ or ENV)
    pipeline = Pipeline(policy)
    store = JsonlStore(
        directory,
        {s.name: s.retention.days for s in policy.streams},
        {s.name: s.retention.counted_from for s in policy.streams},
    )
    now = time.time_ns()
    ws = Capture.of(
        "websocket",
        reader=read_asgi_scope,
        source=visitor_scope(),
        start_ns=now,
        duration_ns=10**9,
        user_id="bob",
        extra={"messages_in": 3, "messages_out": 4, "bytes_in": 10, "bytes_out": 20, "close_code": 1000},
    )
    captures = [
        capture(visitor_scope())._replace(start_ns=now),
        capture(visitor_scope(xff="2001:db8:85a3::8a2e:370:7334"))._replace(start_ns=now),
        ws,
        Capture.auth("login_failure", now, "alice@example.com", read_asgi_scope, visitor_scope()),
    ]
    store.write([r for c in captures for r in pipeline.process(c)])
    store.close()
    return policy


@pytest.mark.parametrize(
    "name", ["access-7-days", "security-90-days", "connections-30-days", "analytics-2-years"]
)
def test_a_store_privlog_wrote_from_an_example_policy_is_clean(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_store(tmp_path / "store", name)
    monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
    assert main(["audit", str(tmp_path / "store"), "--policy", str(EXAMPLES / f"{name}.toml")]) == 0
    out = capsys.readouterr().out
    assert "no findings" in out
    assert " 0 record(s)" not in out


def _append(path: Path, **changes: Any) -> int:
    """Append a copy of the file's first record with ``changes`` (None removes); its line number."""
    lines = path.read_bytes().splitlines()
    rec = orjson.loads(lines[0])
    for k, v in changes.items():
        if v is None:
            rec.pop(k)
        else:
            rec[k] = v
    with path.open("ab") as fh:
        fh.write(orjson.dumps(rec) + b"\n")
    return len(lines) + 1


PLANTED = [
    ("raw-address", {"client.address": "203.0.113.195"}, "client.address"),
    ("raw-address", {"client.address": "2001:db8:85a3:1::1"}, "client.address"),
    ("email", {"url.path": "/users/jane.doe@example.com"}, "url.path"),
    (
        "token",
        {"http.request.header.referer": "https://t.example/9fK2xQ7mP4vL8sR1tW6yZ3aB"},
        "http.request.header.referer",
    ),
    ("phone", {"url.path": "/call/+49 171 1234567"}, "url.path"),
    ("ip-address", {"http.request.header.referer": "https://198.51.100.7"}, "http.request.header.referer"),
    ("ip-address", {"url.path": "/hosts/2001:db8::1/ping"}, "url.path"),
    ("unlisted", {"http.request.header.cookie": "x"}, "http.request.header.cookie"),
    ("unlisted", {"user.id": "jane"}, "user.id"),
    ("expired", {"privlog.retention.expires_at": "2020-01-01T00:00:00.000Z"}, ""),
]


@pytest.mark.parametrize(
    ("kind", "changes", "attribute"), PLANTED, ids=[f"{p[0]}-{i}" for i, p in enumerate(PLANTED)]
)
def test_each_planted_violation_is_found(
    kind: str, changes: dict[str, Any], attribute: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    write_store(store, "access-7-days")
    (day_file,) = (store / "access").glob("*.jsonl")
    line = _append(day_file, **changes)
    policy = load_policy(EXAMPLES / "access-7-days.toml", environ={})
    report = audit_store(store, policy)
    assert list(report.findings) == [(kind, "access", attribute)]
    assert report.findings[(kind, "access", attribute)].where == [f"access/{day_file.name}:{line}"]
    assert main(["audit", str(store), "--policy", str(EXAMPLES / "access-7-days.toml")]) == 1
    out = capsys.readouterr().out
    assert f"{kind}: 1 × {KINDS[kind]}" in out
    for value in changes.values():  # the report names places, never what it found there
        if kind != "unlisted":
            assert value not in out


def test_files_and_folders_others_can_read_are_found(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_store(store, "access-7-days")
    (day_file,) = (store / "access").glob("*.jsonl")
    os.chmod(day_file, 0o644)
    os.chmod(store / "access", 0o755)
    report = audit_store(store, load_policy(EXAMPLES / "access-7-days.toml", environ={}))
    (tally,) = report.findings.values()
    assert list(report.findings) == [("permissions", "access", "")]
    assert tally.where == [f"{store / 'access'} (0o755)", f"{day_file} (0o644)"]


def test_unreadable_lines_and_unknown_streams_are_found(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_store(store, "access-7-days")
    JsonlStore(store, {"debug": 7}).close()
    (store / "debug" / "2026-01-01.jsonl").write_bytes(b'{"timestamp":"2026-01-01T00:00:00.000Z"}\n')
    os.chmod(store / "debug" / "2026-01-01.jsonl", 0o600)
    (day_file,) = (store / "access").glob("*.jsonl")
    with day_file.open("ab") as fh:
        fh.write(b"not json\n")
    report = audit_store(store, load_policy(EXAMPLES / "access-7-days.toml", environ={}))
    assert set(report.findings) == {("unknown-stream", "debug", ""), ("unreadable", "access", "")}


def test_records_of_a_shredded_key_are_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    KeyStore.init(keys, "daily", 30)
    store = tmp_path / "store"
    write_store(store, "connections-30-days", environ={"PRIVLOG_KEY_STORE": str(keys)})
    policy_file = str(EXAMPLES / "connections-30-days.toml")
    assert main(["audit", str(store), "--policy", policy_file, "--keys", str(keys)]) == 0
    (day_file,) = (store / "connections").glob("*.jsonl")
    line = _append(day_file, **{"privlog.key_id": "2026-01-01.0badc0de"})
    capsys.readouterr()
    assert main(["audit", str(store), "--policy", policy_file, "--keys", str(keys)]) == 1
    out = capsys.readouterr().out
    assert f"shredded-key: 1 × {KINDS['shredded-key']} (connections privlog.key_id)" in out
    assert f"connections/{day_file.name}:{line}" in out


def test_without_a_policy_the_policy_free_checks_still_run(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_store(store, "security-90-days")
    (day_file,) = (store / "security").glob("*.jsonl")
    _append(
        day_file,
        **{"url.path": "/u/jane@example.com", "privlog.retention.expires_at": "2020-01-01T00:00:00.000Z"},
    )
    report = audit_store(store)
    assert set(report.findings) == {("email", "security", "url.path"), ("expired", "security", "")}
    assert report.notes


@pytest.mark.parametrize(
    ("value", "kinds"),
    [
        ("/users/{user_id}", ()),
        ("https://news.example.com", ()),
        ("Chrome", ()),
        ("q&page=3", ()),
        ("/api/v1/password-reset-confirmation-page", ()),
        ("2026-11-29T10:30:26.420Z", ()),
        ("/reports/2026-11-29", ()),
        ("mailto:jane@example.org", ("email",)),
        ("/x/10.1.2.3/y", ("ip-address",)),
        ("fe80::1ff:fe23:4567:890a", ("ip-address",)),
        ("sess=Qm9vOjEyMzQ1Njc4OTBhYmNkZWY", ("token",)),
        ("tel:+1 (555) 010-9999", ("phone",)),
    ],
)
def test_classify(value: str, kinds: tuple[str, ...]) -> None:
    assert classify(value) == kinds


def test_a_subject_who_came_back_keeps_records_past_their_own_expiry(tmp_path: Path) -> None:
    store = tmp_path / "store"
    policy = write_store(store, "analytics-2-years")
    (day_file,) = (store / "analytics").glob("*.jsonl")
    first = orjson.loads(day_file.read_bytes().splitlines()[0])
    assert first["privlog.retention.subject_id"]
    _append(day_file, **{"privlog.retention.expires_at": "2020-01-01T00:00:00.000Z"})
    assert audit_store(store, policy).clean  # the index says the subject visited today
    index = store / "analytics" / ".privlog-last-seen.json"
    index.write_bytes(orjson.dumps({first["privlog.retention.subject_id"]: 10}))  # last seen in 1970
    assert list(audit_store(store, policy).findings) == [("expired", "analytics", "")]


def test_a_record_under_a_legal_hold_is_not_expired(tmp_path: Path) -> None:
    from privlog.sinks.holdlog import HoldLog

    store = tmp_path / "store"
    policy = write_store(store, "security-90-days")
    (day_file,) = (store / "security").glob("*.jsonl")
    user = orjson.loads(day_file.read_bytes().splitlines()[0])["user.id"]
    _append(day_file, **{"privlog.retention.expires_at": "2020-01-01T00:00:00.000Z"})
    assert list(audit_store(store, policy).findings) == [("expired", "security", "")]
    HoldLog(store).add("litigation", date.today() + timedelta(days=30), [("user.id", user, "")])
    assert audit_store(store, policy).clean
