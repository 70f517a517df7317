"""Policy actions backed by keys: Crypto-PAn addresses and reversible (AES-SIV) pseudonyms."""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privlog import Pipeline, Policy, PolicyError
from privlog._cli import main

from ..support.policies import ENV, FULL, SECRET
from ..support.requests import capture, scope


def policy(**fields: Any) -> Policy:
    data = copy.deepcopy(FULL)
    data["streams"]["security"]["fields"].update(fields)
    return Policy.from_dict(data, environ=ENV)


def security(p: Policy, xff: str = "203.0.113.195", user: str = "alice@example.com") -> dict[str, Any]:
    outs = Pipeline(p).process(capture(scope(xff=xff), user_id=user))
    return next(o.attributes for o in outs if o.stream == "security")


class TestCryptoPAn:
    def test_prefix_preserving_addresses(self) -> None:
        p = policy(client_ip="cryptopan")
        a = ipaddress.ip_address(security(p, "203.0.113.195")["privlog.client.address"])
        b = ipaddress.ip_address(security(p, "203.0.113.7")["privlog.client.address"])
        c = ipaddress.ip_address(security(p, "198.51.100.1")["privlog.client.address"])
        assert int(a) >> 8 == int(b) >> 8  # same /24 in, same /24 out
        assert int(a) >> 24 != int(c) >> 24
        assert str(a) != "203.0.113.195"

    @settings(max_examples=100)
    @given(st.ip_addresses().filter(lambda a: not getattr(a, "ipv4_mapped", None)))
    def test_no_exported_byte_contains_the_address(self, addr: Any) -> None:
        rec = security(policy(client_ip="cryptopan"), str(addr))
        assert str(addr).encode() not in orjson.dumps(rec)


class TestReversible:
    def test_reveal_gives_the_user_id_back(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data = copy.deepcopy(FULL)
        data["streams"]["security"]["fields"]["user_id"] = "reversible"
        token = security(Policy.from_dict(data, environ=ENV))["user.id"]
        assert token.startswith("r1.")
        assert "alice" not in token
        policy_file = tmp_path / "p.toml"
        policy_file.write_text(_toml(data))
        monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
        assert main(["reveal", token, "--policy", str(policy_file)]) == 0
        assert capsys.readouterr().out.strip() == "alice@example.com"
        monkeypatch.setenv("PRIVLOG_SECRET", "another-key-another-key-0123456789!")
        assert main(["reveal", token, "--policy", str(policy_file)]) == 1

    def test_reversible_is_not_allowed_on_the_path(self) -> None:
        with pytest.raises(PolicyError, match="action 'reversible' is not valid"):
            policy(path="reversible")


def _toml(data: dict[str, Any]) -> str:
    """Just enough TOML for the test policy (tables of strings, ints, bools, lists)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f'"{k}" = {value(x)}' for k, x in v.items()) + " }"
        return orjson.dumps(v).decode()

    lines: list[str] = []

    def table(prefix: str, d: dict[str, Any]) -> None:
        scalars = {
            k: v for k, v in d.items() if not isinstance(v, dict) or prefix.endswith(("fields", "headers"))
        }
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f'"{k}" = {value(v)}' for k, v in scalars.items())
        for k, v in d.items():
            if k not in scalars:
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", data)
    return "\n".join(lines) + "\n"


class TestShreddedKeys:
    def test_a_record_older_than_every_key_skips_only_the_keyed_streams(self, tmp_path: Path) -> None:
        from datetime import date

        from privlog._keys.store import KeyStore

        KeyStore.init(tmp_path, "daily", 90, today=date(2026, 11, 1))
        data = copy.deepcopy(FULL)
        data["secret"] = {"store": str(tmp_path)}
        pipeline = Pipeline(Policy.from_dict(data, environ={}))
        old = capture(scope())._replace(start_ns=1_700_000_000_000_000_000)  # 2023: before the store
        assert [o.stream for o in pipeline.process(old)] == ["analytics"]
