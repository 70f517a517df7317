"""User-agent generalisation."""

from __future__ import annotations

import pytest

from privlog._useragent import UserAgentGeneraliser

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
            ("Googlebot", "2", "Other", "bot"),
        ),
        ("", ("Other", None, "Other", "other")),
        ("\x00\xff garbage", ("Other", None, "Other", "other")),
    ],
)
def test_generalises_to_family_major_os_and_device(
    ua: str, expected: tuple[str, str | None, str, str]
) -> None:
    assert UA(ua) == expected


def test_minor_and_patch_versions_are_dropped() -> None:
    a = UA("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
    b = UA("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0.3")
    assert a == b


def test_cache_is_bounded() -> None:
    small = UserAgentGeneraliser(cache_size=8)
    for i in range(50):
        small(f"curl/{i}.0")
    assert len(small._cache) <= 8
