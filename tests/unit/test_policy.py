"""Policy loading and validation: every mistake stops start-up with a message naming the setting."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from privlog import Policy, PolicyError
from privlog._policy.sections import parse_proxy_header

from ..support.policies import ENV, FULL, SECRET, policy_dict

EXAMPLES = Path(__file__).parents[2] / "examples"


def broken(path: list[str], value: object) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(FULL)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


class TestExamples:
    @pytest.mark.parametrize("name", ["access-7-days", "security-90-days", "connections-30-days"])
    def test_every_example_policy_is_valid(self, name: str) -> None:
        policy = Policy.from_toml(EXAMPLES / f"{name}.toml", environ=ENV)
        assert policy.streams

    def test_seed_002_keeps_seven_days_and_shortens_the_ip(self) -> None:
        policy = Policy.from_toml(EXAMPLES / "access-7-days.toml", environ={})
        (stream,) = policy.streams
        assert stream.retention.days == 7
        assert stream.fields["client_ip"].action == "truncate"
        assert policy.secret is None  # nothing keyed, so no key is needed


class TestValidation:
    def test_unknown_field_names_the_setting_and_suggests_the_nearest(self) -> None:
        data = policy_dict(client_ipp="truncate")
        with pytest.raises(PolicyError) as err:
            Policy.from_dict(data, environ=ENV)
        assert err.value.setting == "streams.access.fields.client_ipp"
        assert "did you mean 'client_ip'" in str(err.value)

    def test_unknown_action(self) -> None:
        with pytest.raises(
            PolicyError, match=r"streams.access.fields.client_ip.*'truncat'.*did you mean 'truncate'"
        ):
            Policy.from_dict(policy_dict(client_ip="truncat"), environ=ENV)

    def test_action_not_valid_for_the_field(self) -> None:
        with pytest.raises(PolicyError, match=r"fields.path: action 'hash' is not valid"):
            Policy.from_dict(policy_dict(path="hash"), environ=ENV)

    def test_unknown_retention_class(self) -> None:
        with pytest.raises(
            PolicyError,
            match=r"streams.security.retention: unknown retention class 'securty'.*did you mean 'security'",
        ):
            Policy.from_dict(broken(["streams", "security", "retention"], "securty"), environ=ENV)

    @pytest.mark.parametrize("days", [0, -3, 1.5, "7", True])
    def test_retention_must_be_positive_whole_days(self, days: object) -> None:
        with pytest.raises(PolicyError, match=r"retention.security.days: must be a positive whole number"):
            Policy.from_dict(broken(["retention", "security", "days"], days), environ=ENV)

    def test_unknown_stream_setting(self) -> None:
        with pytest.raises(
            PolicyError, match=r"streams.analytics.consent_gate: unknown setting.*'consent_gated'"
        ):
            Policy.from_dict(broken(["streams", "analytics", "consent_gate"], True), environ=ENV)

    def test_unknown_event_kind(self) -> None:
        with pytest.raises(PolicyError, match=r"streams.security.events: unknown event kind 'htp'"):
            Policy.from_dict(broken(["streams", "security", "events"], ["htp"]), environ=ENV)

    def test_hash_without_a_secret_says_how_to_make_one(self) -> None:
        with pytest.raises(PolicyError) as err:
            Policy.from_dict(FULL, environ={})
        assert "PRIVLOG_SECRET" in err.value.setting
        assert "privlog secret" in err.value.fix

    def test_short_secret_is_refused_without_showing_it(self) -> None:
        short = "tooshort-but-secret"
        with pytest.raises(PolicyError) as err:
            Policy.from_dict(FULL, environ={"PRIVLOG_SECRET": short})
        assert "19 bytes; at least 32" in str(err.value)
        assert short not in str(err.value)

    def test_secret_from_a_file(self, tmp_path: Path) -> None:
        secret_file = tmp_path / "secret"
        secret_file.write_text(SECRET + "\n")
        secret_file.chmod(0o600)
        policy = Policy.from_dict(FULL, environ={"PRIVLOG_SECRET_FILE": str(secret_file)})
        assert policy.secret == SECRET.encode()

    def test_missing_secret_file(self, tmp_path: Path) -> None:
        with pytest.raises(PolicyError, match=r"secret.file: cannot read the secret file"):
            Policy.from_dict(FULL, environ={"PRIVLOG_SECRET_FILE": str(tmp_path / "nope")})

    def test_secret_never_appears_in_repr(self, full_policy: Policy) -> None:
        assert SECRET not in repr(full_policy)

    def test_bad_trusted_proxy(self) -> None:
        with pytest.raises(PolicyError, match=r"proxies.trusted: 'localhost' is not an IP address"):
            Policy.from_dict(broken(["proxies", "trusted"], ["localhost"]), environ=ENV)

    @pytest.mark.parametrize("bits", [33, -1, "24"])
    def test_truncation_prefix_out_of_range(self, bits: object) -> None:
        with pytest.raises(PolicyError, match=r"client_ip.ipv4_prefix: must be a whole number from 0 to 32"):
            Policy.from_dict(policy_dict(client_ip={"action": "truncate", "ipv4_prefix": bits}), environ=ENV)

    def test_query_value_kept_must_be_allowed(self) -> None:
        rule = {"action": "allowlist", "allow": ["page"], "values": {"q": "int"}}
        with pytest.raises(PolicyError, match=r"query.values: 'q' keeps its value but is not in allow"):
            Policy.from_dict(policy_dict(query=rule), environ=ENV)

    def test_credential_headers_cannot_be_allow_listed(self) -> None:
        with pytest.raises(PolicyError, match=r"headers.Authorization: credentials are never logged"):
            Policy.from_dict(
                broken(["streams", "security", "headers"], {"Authorization": "keep"}), environ=ENV
            )

    @pytest.mark.parametrize(
        "name",
        [
            "X-Api-Key",
            "x-auth-token",
            "X-CSRF-Token",
            "x-xsrf-token",
            "x-amz-security-token",
            "x-session-token",
            "x-goog-api-key",
            "x-client-secret",
            "x-password",
        ],
    )
    @pytest.mark.parametrize("action", ["keep", "hash", "pseudonymise", "reversible", "drop"])
    def test_credential_headers_are_refused_whatever_the_action(self, name: str, action: str) -> None:
        with pytest.raises(PolicyError) as err:
            Policy.from_dict(broken(["streams", "security", "headers"], {name: action}), environ=ENV)
        assert err.value.setting == f"streams.security.headers.{name}"
        assert "credentials are never logged" in err.value.problem
        assert "remove it" in err.value.fix

    @pytest.mark.parametrize(
        "name",
        [
            "X-Forwarded-For",
            "forwarded",
            "x-real-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "x-client-ip",
            "x-cluster-client-ip",
            "fastly-client-ip",
        ],
    )
    def test_address_headers_cannot_be_kept_raw(self, name: str) -> None:
        with pytest.raises(PolicyError) as err:
            Policy.from_dict(broken(["streams", "security", "headers"], {name: "keep"}), environ=ENV)
        assert err.value.setting == f"streams.security.headers.{name}"
        assert "client address" in err.value.problem
        assert '"hash"' in err.value.fix

    @pytest.mark.parametrize("action", ["hash", "pseudonymise", "reversible"])
    def test_address_headers_may_be_keyed(self, action: str) -> None:
        kept = {"action": "keep", "pattern": ["acme", "globex"]}
        data = broken(["streams", "security", "headers"], {"X-Real-IP": action, "x-tenant": kept})
        policy = Policy.from_dict(data, environ=ENV)
        (security,) = (s for s in policy.streams if s.name == "security")
        assert security.headers == {"x-real-ip": action, "x-tenant": "keep"}
        assert security.header_patterns == {"x-tenant": ("acme", "globex")}

    @pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "Forwarded"])
    def test_proxy_header_is_accepted(self, header: str) -> None:
        data = broken(["proxies", "header"], header)
        Policy.from_dict(data, environ=ENV)  # [proxies] header is a known setting
        assert parse_proxy_header(data["proxies"]) == header.lower()

    def test_proxy_header_defaults_to_x_forwarded_for(self) -> None:
        assert parse_proxy_header({}) == "x-forwarded-for"
        assert parse_proxy_header({"trusted": ["10.0.0.0/8"]}) == "x-forwarded-for"

    @pytest.mark.parametrize("header", ["x-real-ip", "both", "", 1, ["forwarded"]])
    def test_proxy_header_must_be_one_of_the_two(self, header: object) -> None:
        with pytest.raises(PolicyError) as err:
            Policy.from_dict(broken(["proxies", "header"], header), environ=ENV)
        assert err.value.setting == "proxies.header"
        assert 'header = "x-forwarded-for"' in err.value.fix
        with pytest.raises(PolicyError, match=r"^proxies.header: "):
            parse_proxy_header({"header": header})

    def test_unknown_sink(self) -> None:
        data = broken(["export"], {"sink": "jsonlines"})
        with pytest.raises(PolicyError, match=r"export.sink: unknown sink 'jsonlines'.*did you mean 'jsonl'"):
            Policy.from_dict(data, environ=ENV)

    def test_no_streams(self) -> None:
        data = {"retention": FULL["retention"]}
        with pytest.raises(PolicyError, match=r"^streams: no stream is defined"):
            Policy.from_dict(data, environ=ENV)

    def test_invalid_toml_names_the_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "p.toml"
        bad.write_text("[streams\n")
        with pytest.raises(PolicyError, match=r"p.toml: not valid TOML"):
            Policy.from_toml(bad)

    def test_drop_removes_a_field(self) -> None:
        policy = Policy.from_dict(policy_dict(status="keep", client_ip="drop"), environ=ENV)
        assert set(policy.streams[0].fields) == {"status"}
