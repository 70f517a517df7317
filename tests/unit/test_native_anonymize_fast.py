"""The compiled ``privlog anonymize``'s fast paths, at their edges, against the Python path.

Each line reuses the last line's text buffers, addresses are read without the C library when
they are plain dotted quads, path words skip the UUID and digit passes they cannot match, and
the user-agent rules are compiled when an agent first reaches them, and IPv6 addresses are
written without the C library's ``sprintf``. None of it may change a
byte: blocks that switch between the cases line by line (a header present, then absent; ASCII,
then Latin-1; escapes; lines handed back to Python in between) must come out as the Python path
writes them. Skipped when the extension is not installed (``make test-python``).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("privlog_native")

from privlog import Policy
from privlog._ops.logformats import MAX_LINE

from ..support.policies import ENV, policy_dict
from .test_native_anonymize import SETTINGS, compare, lines

FULL = {
    "timestamp": "keep", "method": "keep", "http_version": "keep", "path": "template", "status": "keep",
    "query": {"action": "allowlist", "allow": ["page"], "values": {"page": "int"}}, "response_bytes": "keep",
    "referrer": "origin", "user_agent": "generalise", "client_ip": {"action": "truncate", "ipv4_prefix": 20, "ipv6_prefix": 44},
    "user_id": "keep",
}  # fmt: skip
KEEP = {"method": "keep", "path": "keep", "status": "keep", "referrer": "keep", "user_agent": "keep", "client_ip": "keep", "user_id": "keep"}
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.153 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.0]",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Jane Doe/1 CFNetwork/1494.0.7 Darwin/23.4.0",
    "Wget/1.21.4", "curl/4917055512345", "python-requests/2.32.3", "Go-http-client/2.0", "okhttp/4.12.0",
    "PostmanRuntime/7.39.0", "Apache-HttpClient/4.5.14 (Java/17.0.11)", "my-crawler-spider/0.1", "Lynx/2.9.0dev.12 libwww-FM/2.14",
]  # fmt: skip
ADDRESSES = ["203.0.113.9", "1.2.3.4", "255.255.255.255", "0.0.0.0", "01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3", "1.2.3.4.5",
             "1..2.3", "1.2.3.", ".1.2.3", "1.2.3.4:8080", "[1.2.3.4]", "\xa01.2.3.4\x85", "1.2.3.4\x00", "12345", "a.b.c.d",
             "2001:db8::1", "[2001:db8::1]:443", "::ffff:1.2.3.4", "fe80::1%eth0", "::", "unknown", "-", "1.2.3.4 "]  # fmt: skip
PATHS = ["/users/123/orders", "/static/app.1f.js", "/a/550e8400-e29b-41d4-a716-446655440000/b", "/a/550e8400e29b41d4a716446655440000x",
         "/abcdefabcdefabcdefabcdefabcdefab", "/v1.2.3.4/x", "/files/user1@example.com/r.pdf", "/x%2Fy/%C3%A9t%C3%A9", "/caf\xe9",
         "/tok/aGVsbG8tdG9rZW4tMTIzNDU2", "/h/2001:db8::1", "/p;a=1,b=22:333", "/2026-11-29/12.5", "/", ""]  # fmt: skip


def line(address: str, path: str, agent: str = "-", referrer: str = "-", xff: str | None = None, user: str = "-") -> bytes:
    text = f'{address} - {user} [29/Nov/2026:08:00:00 +0000] "GET {path} HTTP/1.1" 200 5 "{referrer}" "{agent}"'
    return (text + (f' "{xff}"' if xff is not None else "")).encode("latin-1")


@pytest.mark.parametrize("fields", [FULL, KEEP], ids=["full", "keep"])
@pytest.mark.parametrize("output", ["same", "json"])
class TestEdges:
    def test_user_agents_compiled_on_first_use(self, fields: dict[str, object], output: str) -> None:
        block = [line("203.0.113.9", "/", agent) for agent in AGENTS * 2]
        compiled = compare(Policy.from_dict(policy_dict(**fields), environ=ENV), "nginx-combined", output, block)
        assert compiled.fallback == 0

    def test_addresses(self, fields: dict[str, object], output: str) -> None:
        block = [line(a, "/") for a in ADDRESSES] + [line("10.0.0.1", "/", xff=a) for a in ADDRESSES]
        compare(Policy.from_dict(policy_dict(**fields), environ=ENV), "nginx-combined", output, block)

    def test_paths(self, fields: dict[str, object], output: str) -> None:
        block = [line("203.0.113.9", p + q) for p in PATHS for q in ("", "?page=2&q=x")]
        compare(Policy.from_dict(policy_dict(**fields), environ=ENV), "nginx-combined", output, block)

    def test_each_line_starts_afresh(self, fields: dict[str, object], output: str) -> None:
        """Buffers reused from the line before never leak into the next: every field present,
        then absent, then present again, with escapes, Latin-1 and Python's lines in between."""
        full = line("203.0.113.9", "/a%20b?page=3", AGENTS[0], "https://www.example.com/x", "198.51.100.4", "jane")
        block = [
            full,
            line("203.0.113.10", "/b"),
            b'203.0.113.11 - - [29/Nov/2026:08:00:00 +0000] "-" 400 0 "-" "-"',
            full,
            line("203.0.113.12", "/caf\xe9?page=\xe9", "Agent \xe9t\xe9/1", "http://h\xe9.example/", "-", "j\xf6rg"),
            b'203.0.113.13 - - [29/Nov/2026:08:00:00 +0000] "GET /x\\x22y HTTP/1.1" 200 1 "\\x22r\\x5C" "a\\x22b"',
            b"not a log line from 203.0.113.9",
            full + b" rt=0.1",
            b"x" * (MAX_LINE + 3),
            full,
            line("203.0.113.14", "/c", xff="-"),
            line("203.0.113.15", "/d", xff="\\x2D"),
            full,
        ]
        compare(Policy.from_dict(policy_dict(**fields), environ=ENV), "nginx-combined", output, block)


# IPv6 groups drawn mostly from zero and a few values, so runs of zeros of every length and
# place come up (what `::` compression and the embedded dotted quad depend on).
groups = st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x102, 0xABC]) | st.integers(0, 0xFFFF), min_size=8, max_size=8)
ipv6 = groups.map(lambda g: ":".join(f"{w:x}" for w in g))


@SETTINGS
@given(st.lists(ipv6, min_size=1, max_size=10), st.sampled_from(["keep", "truncate"]))
def test_ipv6_written_as_the_c_library_writes_it(addresses: list[str], action: str) -> None:
    """The extension writes IPv6 addresses itself, as glibc's inet_ntop (which Python calls)."""
    fields = {"client_ip": action, "path": "keep"}
    block = [line(a, "/") for a in addresses] + [line("10.0.0.1", "/", xff=", ".join(addresses))]
    compare(Policy.from_dict(policy_dict(**fields), environ=ENV), "nginx-combined", "same", block)


@SETTINGS
@given(st.sampled_from([FULL, KEEP]), st.lists(lines, min_size=2, max_size=12))
def test_any_lines_one_after_another(fields: dict[str, object], block: list[bytes]) -> None:
    compare(Policy.from_dict(policy_dict(**fields), environ=ENV), "nginx-combined", "same", block)
