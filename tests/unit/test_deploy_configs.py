"""The backend configurations in deploy/ (Grafana Loki, Elasticsearch, OpenSearch): they parse,
they name only attributes privlog writes, and each class keeps records as long as the shipped
policies promise, no longer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from privlog import Pipeline, Policy

from ..support.policies import ENV

ROOT = Path(__file__).parent.parent.parent
DEPLOY = ROOT / "deploy"
POLICIES = sorted((ROOT / "src" / "privlog" / "policies").glob("*.toml"))
DAY = re.compile(r"^(\d+)d$")


def load(name: str) -> Any:
    path = DEPLOY / name
    return yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())


def shipped_streams() -> list[Any]:
    return [s for p in POLICIES for s in Pipeline(Policy.from_toml(p, environ=ENV)).streams]


def shipped_classes() -> dict[str, int]:
    """Retention class -> days, of the classes a backend can keep (counted from each record)."""
    out: dict[str, int] = {}
    for policy in POLICIES:
        for stream in Policy.from_toml(policy, environ=ENV).streams:
            if stream.retention.subject is None:
                assert out.setdefault(stream.retention.name, stream.retention.days) == stream.retention.days
    return out


def tag(name: str) -> str:
    """A retention tag's attribute name, as privlog's pipeline writes it (not a copy of it)."""
    names = {key for stream in shipped_streams() for key in stream.tags}
    assert name in names, sorted(names)
    return name


def attributes_in(expression: str) -> set[str]:
    return set(re.findall(r'attributes\["([^"]+)"\]', expression))


def check_collector(config: dict[str, Any]) -> None:
    """Every pipeline names components that are defined; the filters name privlog's attributes."""
    defined = {kind: set(config.get(kind) or {}) for kind in ("receivers", "processors", "exporters", "connectors")}
    for name, pipeline in config["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in defined[kind] | defined["connectors"], (name, component)
    conditions = config["processors"]["filter/privlog-only"]["logs"]["log_record"]
    assert set().union(*map(attributes_in, conditions)) == {tag("privlog.retention.class"), tag("privlog.retention.days")}


class TestLoki:
    def test_the_collector_lifts_the_class_privlog_writes_into_a_stream_label(self) -> None:
        config = load("loki/otelcol.yaml")
        check_collector(config)
        assert config["processors"]["groupbyattrs/retention"]["keys"] == [tag("privlog.retention.class")]
        assert config["exporters"]["otlphttp/loki"]["endpoint"].endswith("/otlp")

    def test_one_rule_per_class_with_the_promised_period(self) -> None:
        limits = load("loki/loki-retention.yaml")["limits_config"]
        (index,) = limits["otlp_config"]["resource_attributes"]["attributes_config"]
        assert index == {"action": "index_label", "attributes": [tag("privlog.retention.class")]}
        label = tag("privlog.retention.class").replace(".", "_")  # Loki's OTLP label names
        periods: dict[str, int] = {}
        for rule in limits["retention_stream"]:
            found = re.fullmatch(rf'\{{{label}="([a-z0-9_]+)"\}}', rule["selector"])
            assert found, rule["selector"]
            hours = re.fullmatch(r"(\d+)h", rule["period"])
            assert hours
            assert int(hours.group(1)) % 24 == 0
            periods[found.group(1)] = int(hours.group(1)) // 24
        assert periods == shipped_classes()
        assert limits["retention_period"] == "720h"  # unmatched streams do not live forever
        assert load("loki/loki-retention.yaml")["compactor"]["retention_enabled"] is True


class TestElasticsearch:
    def test_routing_sends_each_class_to_its_own_data_stream(self) -> None:
        config = load("elasticsearch/otelcol.yaml")
        check_collector(config)
        routes = config["connectors"]["routing"]["table"]
        routed: dict[str, str] = {}
        for route in routes:
            assert attributes_in(route["condition"]) == {tag("privlog.retention.class")}
            (cls,) = re.findall(r'== "([a-z0-9_]+)"', route["condition"])
            (pipeline,) = route["pipelines"]
            (exporter,) = config["service"]["pipelines"][pipeline]["exporters"]
            routed[cls] = config["exporters"][exporter]["logs_index"]
        assert set(routed) == set(shipped_classes())
        assert routed == {cls: f"privlog-{cls}" for cls in routed}

    @pytest.mark.parametrize("engine", ["elasticsearch", "opensearch"])
    def test_each_class_is_deleted_within_its_days(self, engine: str) -> None:
        """Rollover every day, delete (days - 1) days after rollover: no record outlives its class
        (ILM and ISM count the delete phase from the rollover, not from the record)."""
        classes = {**shipped_classes(), "unclassified": 30}
        templates = load("elasticsearch/index-templates.json")
        for cls, days in classes.items():
            name = f"privlog-{cls}"
            assert templates[name]["index_patterns"] == [f"{name}*"]
            assert "data_stream" in templates[name]
            if engine == "elasticsearch":
                assert templates[name]["template"]["settings"]["index.lifecycle.name"] == name
                phases = load("elasticsearch/ilm-policies.json")[name]["policy"]["phases"]
                rollover = phases["hot"]["actions"]["rollover"]["max_age"]
                delete = phases["delete"]["min_age"]
            else:
                policy = load("elasticsearch/opensearch-ism-policies.json")[name]["policy"]
                assert policy["ism_template"][0]["index_patterns"] == [f"{name}*"]
                hot = policy["states"][0]
                rollover = hot["actions"][0]["rollover"]["min_index_age"]
                delete = hot["transitions"][0]["conditions"]["min_rollover_age"]
                assert policy["states"][1]["actions"] == [{"delete": {}}]
            up, down = DAY.match(rollover), DAY.match(delete)
            assert up
            assert down
            assert int(up.group(1)) + int(down.group(1)) == days, cls


def test_the_deploy_guide_names_every_file() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            assert str(path.relative_to(ROOT)) in guide, path
