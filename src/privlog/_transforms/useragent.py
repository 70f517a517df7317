"""User-agent generalisation: browser family + major version, OS family, device class.

The full user-agent string is a strong fingerprint; these four coarse values are what the
policies ask for ("browser type and version, operating system"). ua-parser with its Rust
resolver does the parsing; a bounded cache makes repeats cheap.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import ua_parser

_CACHE_SIZE: Final = 4096
_TABLETS: Final = frozenset({"iPad", "Kindle", "Nexus 7", "Nexus 9", "Nexus 10"})
_MOBILE_OS: Final = frozenset({"iOS", "Android", "Windows Phone", "KaiOS", "BlackBerry OS", "Firefox OS"})

#: Well-known crawlers, by ua-parser family (lower case), with the name recorded for them.
#: Any other bot is recorded as "bot": ua-parser's generic rule keeps up to 50 characters
#: of whatever the client wrote before "bot"/"crawler"/"spider".
KNOWN_BOTS: Final = {
    name.lower(): name
    for name in (
        "Googlebot",
        "Bingbot",
        "YandexBot",
        "Baiduspider",
        "DuckDuckBot",
        "Applebot",
        "FacebookBot",
        "Twitterbot",
        "LinkedInBot",
        "Slackbot",
        "Discordbot",
        "AhrefsBot",
        "SemrushBot",
        "PetalBot",
        "GPTBot",
    )
} | {"facebookexternalhit": "FacebookBot"}
BOT_FAMILY: Final = "bot"

#: The browser (or HTTP client) families a record can carry; anything else is "Other".
#: ua-parser names families by its rules, and some rules copy whatever text the client wrote
#: (``^(.*)/(\d+) CFNetwork`` turns ``Jane Doe/1 CFNetwork/1`` into "Jane Doe"), so its answer is
#: only used when it is one of these names, each a real product ua-parser's rules can produce.
BROWSER_FAMILIES: Final = frozenset(
    {
        # web browsers
        "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium",
        "HeadlessChrome", "Firefox", "Firefox Mobile", "Firefox iOS", "Firefox Beta", "Safari",
        "Mobile Safari", "Mobile Safari UI/WKWebView", "Edge", "Edge Mobile", "IE", "IE Mobile",
        "Opera", "Opera Mini", "Opera Mobile", "Opera GX", "Opera Touch", "Samsung Internet",
        "UC Browser", "Yandex Browser", "Vivaldi", "Brave", "DuckDuckGo", "DuckDuckGo Mobile",
        "Whale", "Coc Coc", "QQ Browser", "QQ Browser Mobile", "Baidu Browser", "Huawei Browser",
        "MiuiBrowser", "Amazon Silk", "Puffin", "Pale Moon", "SeaMonkey", "Waterfox", "Epiphany",
        "Konqueror", "Midori", "Maxthon", "Sogou Explorer", "360 Secure Browser", "Oculus Browser",
        "Sailfish Browser", "Tizen Browser", "webOS Browser", "Ecosia Android", "Ecosia iOS",
        "Avast Secure Browser", "Mint Browser", "Lynx", "ELinks", "Ladybird", "MullvadBrowser",
        "Iron", "Comodo Dragon", "Aloha Browser", "Sber Browser", "Android",
        # apps with an embedded browser, and mail clients
        "Facebook", "Facebook Messenger", "Instagram", "Twitter", "LINE", "WeChat Browser",
        "Pinterest", "Snapchat", "TikTok", "Telegram", "KakaoTalk", "Weibo",
        "Slack Desktop Client", "Microsoft Teams", "Skype", "Thunderbird", "Apple Mail", "Outlook",
        # HTTP clients and tools
        "curl", "Wget", "Python Requests", "Python-urllib", "Python aiohttp", "Go-http-client",
        "okhttp", "Apache-HttpClient", "PostmanRuntime", "axios", "HTTPie", "Java", "GuzzleHttp",
        "libwww-perl", "Google-HTTP-Java-Client", "aws-cli", "Boto3", "PhantomJS",
    }
)  # fmt: skip

#: The operating-system families a record can carry; anything else is "Other".
OS_FAMILIES: Final = frozenset(
    {
        "Windows", "Mac OS X", "Mac OS", "iOS", "Android", "Linux", "Ubuntu", "Debian", "Fedora",
        "Red Hat", "Gentoo", "Chrome OS", "FreeBSD", "OpenBSD", "NetBSD", "Solaris",
        "Windows Phone", "Windows Mobile", "KaiOS", "BlackBerry OS", "BlackBerry Tablet OS",
        "Firefox OS", "Tizen", "webOS", "WatchOS", "tvOS", "ATV OS X", "Symbian OS", "Sailfish",
        "Chromecast Android", "Chromecast Linux", "Chromecast Fuchsia", "HarmonyOS",
    }
)  # fmt: skip

#: The device classes a record can carry.
DEVICE_CLASSES: Final = frozenset({"desktop", "mobile", "tablet", "bot", "other"})

#: A major version is kept only as one to three digits (no browser is past 999); a longer
#: number is something the client chose (``curl/4917055512345``) and is dropped.
_MAJOR: Final = re.compile(r"[0-9]{1,3}")

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


def _is_bot(ua: ua_parser.Result) -> bool:
    return ua.device is not None and ua.device.family == "Spider"


def _family(ua: ua_parser.Result) -> tuple[str, str | None]:
    """Browser family and major version, never free text the client chose.

    A bot's family comes from :data:`KNOWN_BOTS` (else "bot"), without a version. Other
    families are ua-parser's when in :data:`BROWSER_FAMILIES`, else "Other" without a version;
    the version is kept only when it is one to three digits.
    """
    agent = ua.user_agent
    if _is_bot(ua):
        family = agent.family.lower() if agent is not None else ""
        return KNOWN_BOTS.get(family, BOT_FAMILY), None
    if agent is None or agent.family not in BROWSER_FAMILIES:
        return "Other", None
    major = agent.major
    return agent.family, major if major is not None and _MAJOR.fullmatch(major) else None


def _device_class(ua: ua_parser.Result, os_family: str) -> str:
    device = ua.device
    if _is_bot(ua):
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
        import ua_parser  # here, not at the top: its import alone takes tens of milliseconds

        self._parse = ua_parser.parse
        self._cache: dict[str, UserAgentInfo] = {}
        self._cache_size = cache_size
        for ua in WARM_UP:
            self(ua)

    def __call__(self, raw: str) -> UserAgentInfo:
        cached = self._cache.get(raw)
        if cached is not None:
            return cached
        result = self._parse(raw[:1024])
        family, major = _family(result)
        os_family = result.os.family if result.os is not None else "Other"
        if os_family not in OS_FAMILIES:
            os_family = "Other"
        info: UserAgentInfo = (family, major, os_family, _device_class(result, os_family))
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # cheap and bounded; the common agents come back at once
        self._cache[raw] = info
        return info
