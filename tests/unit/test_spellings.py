"""American spellings of actions: accepted as one spelling, and named in both by errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from privlog import Policy, PolicyError

from ..support.policies import ENV, FULL, policy_dict


def spelt(ise: str) -> dict[str, Any]:
    """FULL with every generalise/pseudonymise action spelt with ``ise`` ("ise" or "ize")."""
    out = copy.deepcopy(FULL)
    fields = out["streams"]["security"]["fields"]
    fields["user_agent"] = f"general{ise}"
    fields["language"] = f"general{ise}"
    fields["user_id"] = f"pseudonym{ise}"
    fields["session_id"] = {"action": f"pseudonym{ise}", "cookie": "session"}
    out["streams"]["security"]["headers"]["x-tenant"] = f"pseudonym{ise}"
    return out


def test_both_spellings_compile_to_the_same_streams() -> None:
    us = Policy.from_dict(spelt("ize"), environ=ENV)
    uk = Policy.from_dict(spelt("ise"), environ=ENV)
    security = next(s for s in us.streams if s.name == "security")
    assert security.fields["session_id"].action == "pseudonymise"
    assert security.headers["x-tenant"] == "pseudonymise"
    assert us.streams == uk.streams  # downstream sees one spelling


@pytest.mark.parametrize(
    ("field", "typo", "uk", "us"),
    [
        ("user_id", "pseudonimize", "pseudonymise", "pseudonymize"),
        ("user_id", "pseudonimise", "pseudonymise", "pseudonymize"),
        ("user_agent", "generalze", "generalise", "generalize"),
    ],
)
def test_a_misspelt_action_is_answered_in_both_spellings(field: str, typo: str, uk: str, us: str) -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_dict(policy_dict(**{field: typo}), environ=ENV)
    assert f"did you mean {uk!r} (or {us!r})?" in err.value.fix
    assert f"{uk} (or {us})" in err.value.fix.partition("Valid names: ")[2]


def test_a_misspelt_header_action_is_answered_in_both_spellings() -> None:
    policy = policy_dict()
    policy["streams"]["access"]["headers"] = {"x-tenant": "pseudonimize"}
    with pytest.raises(PolicyError, match="unknown header action") as err:
        Policy.from_dict(policy, environ=ENV)
    assert "did you mean 'pseudonymise' (or 'pseudonymize')?" in err.value.fix


def test_a_header_action_of_the_wrong_type_is_a_policy_error() -> None:
    policy = policy_dict()
    policy["streams"]["access"]["headers"] = {"x-tenant": ["hash"]}
    with pytest.raises(PolicyError, match="must be the name of a header action, got a list"):
        Policy.from_dict(policy, environ=ENV)
