"""User-agent generalisation: browser family + major version, OS family, device class.

The full user-agent string is a strong fingerprint; these four coarse values are what the
policies ask for ("browser type and version, operating system"). ua-parser with its Rust
resolver does the parsing; a bounded cache makes repeats cheap.
"""

from __future__ import annotations

from typing import Final

import ua_parser

_CACHE_SIZE: Final = 4096
_TABLETS: Final = frozenset({"iPad", "Kindle", "Nexus 7", "Nexus 9", "Nexus 10"})
_MOBILE_OS: Final = frozenset({"iOS", "Android", "Windows Phone", "KaiOS", "BlackBerry OS", "Firefox OS"})

#: Common user agents parsed at start-up, which loads the resolver and fills the cache.
WARM_UP: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
)

UserAgentInfo = tuple[str, str | None, str, str]
"""(browser family, browser major version or None, OS family, device class)."""


def _device_class(ua: ua_parser.Result, os_family: str) -> str:
    device = ua.device
    if device is not None and device.family == "Spider":
        return "bot"
    if device is not None and (device.family in _TABLETS or "Tablet" in device.family):
        return "tablet"
    if os_family in _MOBILE_OS:
        return "mobile"
    if os_family == "Other" and ua.user_agent is None:
        return "other"
    return "desktop"


class UserAgentGeneraliser:
    """Callable mapping a raw user-agent string to :data:`UserAgentInfo`, with a bounded cache."""

    def __init__(self, cache_size: int = _CACHE_SIZE) -> None:
        self._cache: dict[str, UserAgentInfo] = {}
        self._cache_size = cache_size
        for ua in WARM_UP:
            self(ua)

    def __call__(self, raw: str) -> UserAgentInfo:
        cached = self._cache.get(raw)
        if cached is not None:
            return cached
        result = ua_parser.parse(raw[:1024])
        agent = result.user_agent
        os_family = result.os.family if result.os is not None else "Other"
        info: UserAgentInfo = (
            agent.family if agent is not None else "Other",
            agent.major if agent is not None else None,
            os_family,
            _device_class(result, os_family),
        )
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # cheap and bounded; the common agents come back at once
        self._cache[raw] = info
        return info
