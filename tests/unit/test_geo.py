"""Approximate location, looked up from the full address before truncation, at the policy's level."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from privlog import Pipeline, Policy, PolicyError

from ..support.policies import ENV, FULL
from ..support.requests import capture, scope


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small City database made here, in the GeoIP2 City layout."""
    path = tmp_path_factory.mktemp("geo") / "test-city.mmdb"
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["203.0.113.128/25"]),
        {
            "continent": {"code": "EU"},
            "country": {"iso_code": "DE"},
            "subdivisions": [{"iso_code": "BY", "names": {"en": "Bavaria"}}],
            "city": {"names": {"en": "Munich"}},
        },
    )
    writer.insert_network(
        IPSet(["2001:db8::/32"]),
        {"continent": {"code": "AS"}, "country": {"iso_code": "ID"}, "city": {"names": {"en": "Jakarta"}}},
    )
    writer.to_db_file(str(path))
    return path


def policy(database: Path | None, level: str) -> Policy:
    data = copy.deepcopy(FULL)
    data["streams"]["analytics"]["fields"]["location"] = level
    if database is not None:
        data["geo"] = {"database": str(database)}
    return Policy.from_dict(data, environ=ENV)


def analytics(p: Policy, xff: str) -> dict[str, Any]:
    outs = Pipeline(p).process(capture(scope(xff=xff)))
    return next(o.attributes for o in outs if o.stream == "analytics")


class TestLocation:
    def test_city_level(self, database: Path) -> None:
        rec = analytics(policy(database, "city"), "203.0.113.195")
        assert rec["geo.country.iso_code"] == "DE"
        assert rec["geo.region.iso_code"] == "DE-BY"
        assert rec["geo.locality.name"] == "Munich"
        assert rec["client.address"] == "203.0.113.0"  # the same record still truncates

    def test_country_only_keeps_nothing_finer(self, database: Path) -> None:
        rec = analytics(policy(database, "country"), "203.0.113.195")
        assert rec["geo.country.iso_code"] == "DE"
        assert "geo.region.iso_code" not in rec
        assert "geo.locality.name" not in rec

    def test_looked_up_from_the_full_address_not_the_truncated_one(self, database: Path) -> None:
        # The network is 203.0.113.128/25: the truncated 203.0.113.0 is outside it.
        rec = analytics(policy(database, "city"), "203.0.113.195")
        assert rec["client.address"] == "203.0.113.0"
        assert rec["geo.locality.name"] == "Munich"

    def test_ipv6(self, database: Path) -> None:
        rec = analytics(policy(database, "city"), "2001:db8:ffff:1::7")
        assert rec["geo.locality.name"] == "Jakarta"
        assert rec["geo.continent.code"] == "AS"

    def test_unknown_and_invalid_addresses_give_no_location(self, database: Path) -> None:
        for xff in ("198.51.100.1", "not-an-ip"):
            rec = analytics(policy(database, "city"), xff)
            assert not any(k.startswith("geo.") for k in rec)
            assert "198.51.100.1" not in orjson.dumps(rec).decode()

    def test_a_missing_database_fails_at_start_up(self, tmp_path: Path) -> None:
        with pytest.raises(PolicyError, match=r"geo.database: cannot open"):
            policy(tmp_path / "nope.mmdb", "city")
        with pytest.raises(PolicyError, match=r"geo.database: the location field needs a MaxMind database"):
            policy(None, "city")
