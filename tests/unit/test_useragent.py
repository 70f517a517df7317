"""User-agent generalisation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privlog._transforms.useragent import KNOWN_BOTS, UserAgentGeneraliser

UA = UserAgentGeneraliser()


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36",
            ("Chrome", "131", "Windows", "desktop"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            ("Mobile Safari", "17", "iOS", "mobile"),
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1",
            ("Mobile Safari", "16", "iOS", "tablet"),
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            ("Googlebot", None, "Other", "bot"),
        ),
        ("", ("Other", None, "Other", "other")),
        ("\x00\xff garbage", ("Other", None, "Other", "other")),
    ],
)
def test_generalises_to_family_major_os_and_device(
    ua: str, expected: tuple[str, str | None, str, str]
) -> None:
    assert UA(ua) == expected


@pytest.mark.parametrize(
    ("ua", "family"),
    [
        ("janedoe_at_example Crawler/1.0", "bot"),
        ("Mozilla/5.0 (compatible; Jane-Doe-Spider/1.0)", "bot"),
        ("Mozilla/5.0 (compatible; janedoe@example.com bot/1.0)", "bot"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Bingbot"),
        ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "YandexBot"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "FacebookBot"),
        ("Twitterbot/1.0", "Twitterbot"),
    ],
)
def test_bots_get_a_fixed_family_and_no_version(ua: str, family: str) -> None:
    # ua-parser's generic bot rule copies up to 50 characters the client wrote.
    assert UA(ua) == (family, None, "Other", "bot")


@pytest.mark.parametrize(
    "ua",
    [
        "Jane%20Doe%20App/1.0 CFNetwork/1410.0.3 Darwin/22.6.0",
        "JaneDoeWorksAtExampleCorpAndThisIsHerOwnApp/1.0 CFNetwork/1410.0.3 Darwin/22.6.0",
    ],
)
def test_families_copied_from_odd_client_text_are_other(ua: str) -> None:
    assert UA(ua)[:2] == ("Other", None)


@given(st.text(max_size=200), st.sampled_from(["", " Crawler/1.0", "bot/2.1", " Spider/3.0)"]))
def test_the_family_is_always_short_and_plain(ua: str, suffix: str) -> None:
    family, major, _, device = UA(f"Mozilla/5.0 (compatible; {ua}{suffix}")
    assert re.fullmatch(r"[A-Za-z0-9 ._-]{1,40}", family)
    if device == "bot":
        assert major is None
        assert family == "bot" or family in KNOWN_BOTS.values()


def test_minor_and_patch_versions_are_dropped() -> None:
    a = UA("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
    b = UA("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0.3")
    assert a == b


def test_cache_is_bounded() -> None:
    small = UserAgentGeneraliser(cache_size=8)
    for i in range(50):
        small(f"curl/{i}.0")
    assert len(small._cache) <= 8
