"""Approximate location from the full client address, before it is truncated or hashed.

One policy promises "city/region based on IP", another the country only: the policy picks the level.
Uses a MaxMind-format database (GeoLite2/GeoIP2 City or Country) through ``maxminddb``, an
optional dependency (``pip install privlog-middleware[geo]``). Only the chosen level is ever returned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._errors import ConfigurationError
from .address import format_ip

LEVELS = ("country", "region", "city")

Location = dict[str, str]
"""OpenTelemetry ``geo.*`` attributes of one address, at the policy's level or coarser."""


def open_database(path: str) -> Any:
    """Open a MaxMind database once, at start-up; a missing file or package is a policy error."""
    try:
        import maxminddb
    except ImportError:
        raise ConfigurationError(
            "geo.database", "the location field needs the maxminddb package", "pip install privlog-middleware[geo]"
        ) from None
    try:
        return maxminddb.open_database(path)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            "geo.database",
            f"cannot open {path} ({type(exc).__name__})",
            "point it at a GeoLite2/GeoIP2 .mmdb file",
        ) from None


def make_locator(reader: Any, level: str, cache_size: int = 4096) -> Callable[[bytes], Location]:
    """A function from a packed address to its location at ``level``, cached per address."""
    want_region = level in ("region", "city")
    want_city = level == "city"

    @functools.lru_cache(maxsize=cache_size)
    def locate(packed: bytes) -> Location:
        try:
            found = reader.get(format_ip(packed))
        except ValueError:
            found = None
        out: Location = {}
        if not isinstance(found, dict):
            return out
        country = (found.get("country") or found.get("registered_country") or {}).get("iso_code")
        if country:
            out["geo.country.iso_code"] = str(country)
        continent = (found.get("continent") or {}).get("code")
        if continent:
            out["geo.continent.code"] = str(continent)
        if want_region:
            subdivisions = found.get("subdivisions") or []
            if subdivisions and subdivisions[0].get("iso_code"):
                out["geo.region.iso_code"] = (
                    f"{country}-{subdivisions[0]['iso_code']}"
                    if country
                    else str(subdivisions[0]["iso_code"])
                )
        if want_city:
            name = ((found.get("city") or {}).get("names") or {}).get("en")
            if name:
                out["geo.locality.name"] = str(name)
        return out

    return locate
