"""A static secret is stretched with scrypt once per process, and every key id and pseudonym
comes from the stretched key: testing a guessed secret against the logs costs a scrypt."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privlog import Pipeline, Policy, PrivacyLog
from privlog._keys import stretch as stretch_module
from privlog._keys.epochs import StaticKeys
from privlog._keys.ring import KeyRing, derive, key_id_of
from privlog._ops.subject import subject_matches

from ..support.policies import FULL
from ..support.requests import capture, scope


def scrypt_of(secret: bytes) -> bytes:
    """The documented stretch, computed here independently of privlog's cache."""
    return hashlib.scrypt(secret, salt=b"privlog static secret v2", n=2**15, r=8, p=1, maxmem=2**26, dklen=32)


def fresh_secret() -> str:
    return secrets.token_urlsafe(32)  # unseen by this process: its stretch is not cached yet


def security_record(secret: str) -> dict[str, Any]:
    pipeline = Pipeline(Policy.from_dict(FULL, environ={"PRIVLOG_SECRET": secret}))
    return {o.stream: o.attributes for o in pipeline.process(capture(scope()))}["security"]


class TestNotTheOldFastDerivation:
    def test_the_issues_example_key_id_is_gone(self) -> None:
        old = hashlib.blake2b(b"a" * 32, digest_size=4, person=b"privlog-key-id").hexdigest()
        assert old == "248e4f8a"
        assert KeyRing.from_secret(b"a" * 32).key_id != old
        assert StaticKeys(b"a" * 32).ring_for(0).key_id != old

    def test_key_id_and_pseudonyms_of_a_record_need_the_scrypt(self) -> None:
        secret = fresh_secret()
        record = security_record(secret)
        fast = KeyRing(secret.encode())  # what a static secret used to key, with no stretching
        assert record["privlog.key_id"] != fast.key_id
        assert record["user.id"] != fast.pseudonymiser("user_id")(b"alice@example.com")
        stretched = KeyRing(scrypt_of(secret.encode()))
        assert record["privlog.key_id"] == stretched.key_id
        assert record["user.id"] == stretched.pseudonymiser("user_id")(b"alice@example.com")

    @pytest.mark.parametrize("rotation", ["daily", "weekly", "monthly"])
    def test_rotating_keys_come_from_the_stretched_key(self, rotation: str) -> None:
        secret = fresh_secret().encode()
        keys = StaticKeys(secret, rotation)
        ring = keys.ring_for(0)
        label = f"privlog epoch {rotation} 0"
        old = derive(secret, label)
        assert ring.key_id.rsplit(".", 1)[1] != key_id_of(old)
        assert ring.key_id.rsplit(".", 1)[1] == key_id_of(derive(scrypt_of(secret), label))

    def test_the_last_visit_subject_key_comes_from_the_stretched_key(self) -> None:
        secret = fresh_secret().encode()
        subject = StaticKeys(secret).subject_ring()
        assert subject.key_id != key_id_of(derive(secret, "privlog subject v1"), "subject")
        assert subject.key_id == key_id_of(derive(scrypt_of(secret), "privlog subject v1"), "subject")

    def test_subject_requests_find_what_the_pipeline_wrote(self) -> None:
        secret = fresh_secret()
        record = security_record(secret)
        policy = Policy.from_dict(FULL, environ={"PRIVLOG_SECRET": secret})
        found = {(m.attribute, m.value, m.key_id) for m in subject_matches(policy, user_id="alice@example.com")}
        assert ("user.id", record["user.id"], record["privlog.key_id"]) in found


class TestOneScryptPerProcess:
    def test_building_many_privacy_logs_and_tools_stretches_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        calls: list[bytes] = []
        real: Callable[..., bytes] = hashlib.scrypt

        def counting(password: bytes, **kw: Any) -> bytes:
            calls.append(password)
            return real(password, **kw)

        monkeypatch.setattr(stretch_module.hashlib, "scrypt", counting)
        secret = fresh_secret()
        env = {"PRIVLOG_SECRET": secret}
        for _ in range(3):
            PrivacyLog(Policy.from_dict(FULL, environ=env), sinks=[]).close()
        subject_matches(Policy.from_dict(FULL, environ=env), user_id="alice", today=date(2026, 11, 29))
        KeyRing.from_secret(secret.encode())
        StaticKeys(secret.encode(), "daily").ring_for(0)
        assert calls == [secret.encode()]
        other = fresh_secret().encode()
        StaticKeys(other)
        assert calls == [secret.encode(), other]


def windows(text: str, size: int = 6) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


class TestKeyIdRevealsNothing:
    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(min_size=16, max_size=64), st.sampled_from(["never", "daily", "monthly"]))
    def test_no_piece_of_the_secret_in_its_key_id(self, secret: bytes, rotation: str) -> None:
        key_id = StaticKeys(secret, rotation).ring_for(0).key_id
        for encoded in (secret.hex(), base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode()):
            assert not windows(key_id) & windows(encoded)
            assert encoded not in key_id

    def test_the_property_can_fail(self) -> None:
        leaky = "static." + (b"\x12\x34\x56\x78" * 4).hex()[:8]
        assert windows(leaky) & windows((b"\x12\x34\x56\x78" * 4).hex())
