"""Any value at any position of a valid policy gives a valid policy or a PolicyError naming a
setting: never a TypeError, OverflowError or other traceback, and never a policy that fails later."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privlog import Pipeline, Policy, PolicyError

from ..support.policies import ENV, FULL

BASE: dict[str, Any] = {
    **copy.deepcopy(FULL),
    "secret": {"algorithm": "blake2b", "rotation": "daily"},
    "export": {"sink": "jsonl", "directory": "privlog-logs", "queue_size": 100, "batch_size": 10, "flush_interval": 0.5},
    "metrics": {"enabled": True, "stream": "security"},
}

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in a nested policy: each table key and each list item."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*prefix, i)
            yield from paths(value, (*prefix, i))


POSITIONS = list(paths(BASE))


def replaced(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def outcome(data: dict[str, Any]) -> Policy | PolicyError:
    try:
        policy = Policy.from_dict(data, environ=ENV)
    except PolicyError as err:
        error = err
    else:
        Pipeline(policy)  # a valid policy also compiles
        return policy
    assert error.setting, "a PolicyError names its setting"
    return error


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(POSITIONS), json_like)
def test_any_value_anywhere_is_a_policy_or_a_policy_error(path: tuple[Any, ...], value: Any) -> None:
    outcome(replaced(path, value))


@pytest.mark.parametrize(
    ("path", "value", "setting"),
    [
        (("export", "flush_interval"), math.inf, "export.flush_interval"),
        (("export", "flush_interval"), 1e300, "export.flush_interval"),
        (("export", "flush_interval"), math.nan, "export.flush_interval"),
        (("export", "queue_size"), 10**30, "export.queue_size"),
        (("retention", "security", "days"), 3_000_000, "retention.security.days"),
        (("streams", "security", "events"), [["http"]], "streams.security.events"),
        (("streams", "analytics", "fields", "path"), {"action": ["scrub"]}, "streams.analytics.fields.path"),
        (("streams", "security", "headers", "x-foo"), ["keep"], "streams.security.headers.x-foo"),
        (("export", "sink"), ["jsonl"], "export.sink"),
        (("export", "sink"), {}, "export.sink"),
        (("secret", "algorithm"), ["blake2b"], "secret.algorithm"),
        (("secret", "rotation"), {}, "secret.rotation"),
        (("export", "directory"), "a\0b", "export.directory"),
        (("streams", "analytics", "fields"), {}, "streams.analytics.fields"),
        (("metrics",), {"enabled": True, "stream": ["security"]}, "metrics.stream"),
    ],
)
def test_values_reported_in_issue_11(path: tuple[Any, ...], value: Any, setting: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict(replaced(path, value), environ=ENV)
    assert info.value.setting == setting


def test_keys_init_refuses_a_retention_no_date_can_reach(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from privlog._cli import main

    assert main(["keys", "init", str(tmp_path / "keys"), "--retention-days", "3000000"]) != 0
    assert "retention_days" in capsys.readouterr().err
    assert not (tmp_path / "keys" / "keys.json").exists()
