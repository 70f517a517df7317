"""The field registry is the one place a field is described: every part reads it."""

from __future__ import annotations

from typing import Any

import pytest

from privlog import Policy
from privlog._core.steps import STEP_FACTORIES, StepContext
from privlog._policy.catalogue import FIELDS, KEYED_ACTIONS
from privlog._policy.fields import parse_fields

from ..support.policies import ENV, policy_dict


class TestRegistry:
    def test_every_field_has_a_step_factory_and_nothing_else_does(self) -> None:
        assert set(STEP_FACTORIES) == set(FIELDS)

    @pytest.mark.parametrize(
        ("name", "action"),
        [(n, a) for n, spec in FIELDS.items() for a in spec.actions if n != "location"],
    )
    def test_every_action_of_every_field_validates_and_compiles(self, name: str, action: str) -> None:
        rules = parse_fields({name: action}, "fields")
        assert rules[name].action == action
        for option in FIELDS[name].options.get(action, ()):
            assert option.name in rules[name].options  # defaults are filled in
        ctx = StepContext(Policy.from_dict(policy_dict(status="keep"), environ=ENV))
        step = STEP_FACTORIES[name](rules[name], ctx)
        assert (step is None) == (name == "timestamp")

    def test_keyed_streams_are_what_their_actions_say(self) -> None:
        data: dict[str, Any] = policy_dict(path="template", user_id="pseudonymise")
        policy = Policy.from_dict(data, environ=ENV)
        assert [s.keyed for s in policy.streams] == [True]
        assert policy.needs_secret
        assert policy.keyed_retention_days == 7
        plain = Policy.from_dict(policy_dict(path="template", user_id="keep"), environ={})
        assert [s.keyed for s in plain.streams] == [False]
        assert not plain.needs_secret
        assert plain.keyed_retention_days == 0

    def test_identifying_fields_have_keyed_actions_and_an_attribute(self) -> None:
        identifying = {n: s for n, s in FIELDS.items() if s.identifies}
        assert set(identifying) == {"client_ip", "user_id"}
        for spec in identifying.values():
            assert KEYED_ACTIONS & set(spec.actions)
            assert spec.attributes
