"""Secrets are never echoed, weak ones are refused, and key material others can read is
refused as ssh refuses an unprotected private key."""

from __future__ import annotations

import copy
import os
import secrets
import stat
from pathlib import Path

import pytest

from privlog import ConfigurationError, Pipeline, Policy, PolicyError
from privlog._cli import main
from privlog._keys.store import KeyStore
from privlog._policy.sections import weak_secret

from ..support.policies import ENV, FULL, SECRET


def with_secret(**cfg: object) -> dict[str, object]:
    return {**copy.deepcopy(FULL), "secret": cfg}


class TestNeverEchoed:
    @pytest.mark.parametrize(
        "pasted",
        [
            secrets.token_urlsafe(48),  # what `privlog secret` prints
            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",  # a base32 key: looks like a name, but is not one
            "sk_live_51HxYzAbCdEf",
        ],
    )
    def test_a_secret_pasted_into_env_is_not_shown(self, pasted: str) -> None:
        with pytest.raises(PolicyError) as info:
            Policy.from_dict(with_secret(env=pasted), environ={})
        assert info.value.setting == "secret.env"
        assert pasted not in str(info.value)
        assert "not an environment variable name" in str(info.value)

    def test_a_real_variable_name_is_still_named(self) -> None:
        with pytest.raises(PolicyError, match=r"\$MY_APP_SECRET is not set"):
            Policy.from_dict(with_secret(env="MY_APP_SECRET"), environ={})


class TestWeakSecrets:
    @pytest.mark.parametrize("weak", ["a" * 32, "password" * 4, "abab" * 10, "0123456789" * 4])
    def test_refused_with_the_fix_and_without_the_value(self, weak: str) -> None:
        with pytest.raises(PolicyError, match=r"too easy to guess.*privlog secret") as info:
            Policy.from_dict(FULL, environ={"PRIVLOG_SECRET": weak})
        assert weak not in str(info.value)

    def test_what_privlog_secret_prints_is_accepted(self) -> None:
        for _ in range(200):
            assert weak_secret(secrets.token_urlsafe(48).encode()) is None
            assert weak_secret(secrets.token_hex(16).encode()) is None
        assert weak_secret(SECRET.encode()) is None


class TestUnprotectedKeyMaterial:
    def test_a_secret_file_others_can_read_is_refused_naming_the_chmod(self, tmp_path: Path) -> None:
        path = tmp_path / "secret"
        path.write_text(SECRET)
        path.chmod(0o644)
        with pytest.raises(ConfigurationError, match=rf"secret.file: .*mode 0644.*chmod 600 {path}") as info:
            Policy.from_dict(FULL, environ={"PRIVLOG_SECRET_FILE": str(path)})
        assert SECRET not in str(info.value)
        path.chmod(0o600)
        assert Policy.from_dict(FULL, environ={"PRIVLOG_SECRET_FILE": str(path)}).secret == SECRET.encode()

    @pytest.mark.parametrize(("what", "mode", "fix"), [("file", 0o644, "chmod 600"), ("folder", 0o755, "chmod 700")])
    def test_a_key_store_others_can_read_is_refused(self, tmp_path: Path, what: str, mode: int, fix: str) -> None:
        KeyStore.init(tmp_path / "keys", "daily", 90)
        target = tmp_path / "keys" / "keys.json" if what == "file" else tmp_path / "keys"
        target.chmod(mode)
        data = {**copy.deepcopy(FULL), "secret": {"store": str(tmp_path / "keys")}}
        with pytest.raises(ConfigurationError, match=rf"secret.store: .*{fix} {target}"):
            Pipeline(Policy.from_dict(data, environ={}))

    def test_keys_init_on_an_existing_store_refuses_without_changing_its_mode(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        KeyStore.init(tmp_path / "keys", "daily", 90)
        (tmp_path / "keys").chmod(0o750)
        assert main(["keys", "init", str(tmp_path / "keys")]) != 0
        assert "already exists" in capsys.readouterr().err
        assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o750


def test_the_shared_test_secret_is_strong() -> None:
    assert Policy.from_dict(FULL, environ=ENV).secret == SECRET.encode()
