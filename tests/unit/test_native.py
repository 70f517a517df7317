"""The compiled batch path (privlog-native) against the Python pipeline: the same bytes.

For arbitrary valid policies and arbitrary captures, the extension's OTLP request must equal
``LogEncoder.encode`` of the pipeline's outputs, and its JSONL chunks must equal the files
``JsonlStore.write`` leaves, byte for byte. The Python path is the reference: when these fail,
the Rust side is wrong. Skipped when the extension is not installed (``make test-python``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("privlog_native")

from privlog import Pipeline, Policy
from privlog._core.native import NativePipeline, available, describe
from privlog._policy.catalogue import HEADER_ACTIONS

from ..support.native import OBSERVED, compare, make_capture
from ..support.policies import ENV, FULL
from ..support.policy_strategies import random_policies

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; JaneDoeCustomCrawler/1.0; +https://jane.example)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.10.289 Version/12.02",
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) Edge/15.15063",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36",
    "Dalvik/2.1.0 (Linux; U; Android 9; KFTRWI Build/PS7326.3183N)",
    "",
]
LATIN1 = st.characters(max_codepoint=255)
HEADER_POOL = ["x-request-id", "x-tenant", "x-page", "referer", "user-agent", "accept-language", "x-forwarded-for", "dnt"]
SHAPES = st.one_of(st.sampled_from(["int", "uuid"]), st.lists(st.sampled_from(["date", "name", "é", "1"]), min_size=1, unique=True))
HEADER_SPECS = st.one_of(
    st.sampled_from(sorted(HEADER_ACTIONS - {"keep"})), SHAPES.map(lambda s: {"action": "keep", "pattern": s})
)
PARAMS = ["page", "q", "sort", "a b", "é", "x+y"]
UUID = "550E8400-e29b-41d4-a716-446655440000"
COOKIES = ["session", "sid", "a.b", "s;x", "ü"]


def latin1(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(LATIN1, max_size=max_size)


# -- paths, queries, addresses, referrers, user agents ---------------------------------------
SEGMENTS = [
    "users", "4711", "", "jane@example.net", "550e8400-e29b-41d4-a716-446655440000", "10.0.0.1",
    "[2001:db8::1]:443", "2001:db8::1", "v1.2", "06-12-34-56-78", "01.02.85", "aGVsbG8tdG9rZW4tMTIzNDU2",
    "README", "Getting-Started", "QwErTyUiOpAsDfGh", "ABCDEFGhijklmnopq", "abcdefabcdefabcdef", "%2F",
    "getUserProfile", "parseURLHandler", "release-notes-2024", "invoice-2024123", "mp4-video-file", "xJ3kQ9vLm2Pz",
    "strengths-rhythm", "Zkqvbnmxtrw-hello", "a:::1:2", "x:fe80::1:y", "ec2-203-0-113-77",
    "%252F", "%25252F", "%40", "jane%40example.net", "%C3%A9t%C3%A9", "%E2%80", "%D9%A1%D9%A2", "x;jsessionid=ABC123DEF456GHI789",
    "a,b=c", "1:2:3", "fe80::1%25eth0", "::ffff:10.0.0.1", "2x", "%7Bid%7D", "caf%C3%A9-12345", "x" * 70,
    "with space", "ümlaut", "١٢٣", "%zz", "123456789012345678901234567890",
]
segments = st.one_of(
    st.sampled_from(SEGMENTS),
    st.text(st.sampled_from("abcXYZ019-._~%@:;,=+[]"), max_size=20),
    st.from_regex(r"%[0-9A-Fa-f]{2}([a-z0-9]|%[0-9A-Fa-f]{2}){0,6}", fullmatch=True),
    st.text(max_size=12),
)
paths = st.lists(segments, max_size=6).map(lambda s: "/" + "/".join(s))
query_parts = st.tuples(
    st.one_of(st.sampled_from(PARAMS), st.sampled_from(["p%61ge", "q+", "%71", "page%"]), latin1(8)),
    st.one_of(st.none(), latin1(12), st.sampled_from(["1", "123456", "1234567", "date", "name", UUID, "1%26email%3Dj%40x", "%C3%A9", "%ZZ", "a+b", "%E2%80"])),
)
queries = st.one_of(
    st.binary(max_size=40),
    st.lists(query_parts, max_size=6).map(
        lambda ps: "&".join(n if v is None else f"{n}={v}" for n, v in ps).encode("latin-1", "replace")
    ),
)
addresses = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"{a}:8080"),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]:443"),
    st.sampled_from(["::ffff:203.0.113.9", "2002:cb00:7109::1", "fe80::1%eth0", "unknown", " 10.1.2.3 ", "01.2.3.4", ""]),
)
chains = st.lists(addresses, max_size=4).map(", ".join)
forwarded = st.lists(addresses, max_size=3).map(lambda hs: ", ".join(f'for="{h}";proto=https' for h in hs))
referrers = st.one_of(
    st.sampled_from(["https://Mail.Example.com/inbox?x=1", "http://u:p@host:8080/a", "HTTP://[2001:DB8::1]:99/", "ftp://x", "https://host\n", "//x", "https://h:123456/",
                     "http://203.0.113.77:8080/x", "http://3405803853/", "http://0xcb.0.113.77/", "https://203.0.113.77.nip.io/", "https://ec2-203-0-113-77.compute.example/", "https://a.b.c1/"]),
    latin1(30),
)
languages = st.one_of(st.sampled_from(["de-DE,de;q=0.9", "*", "", "EN", "jane", "zh-Hant-TW", " fr ;q=1", "\xa0de"]), latin1(12))
user_agents = st.one_of(st.sampled_from(UAS), latin1(60), st.sampled_from(UAS).map(lambda u: u + " extra/1.0"))
cookies = st.one_of(
    st.sampled_from(["theme=dark; session=sess-abc", "session=\"quoted\"", "sid= ", "session=é; sid=1", "a.b=x;s;x=y"]),
    latin1(30),
)

headers = st.fixed_dictionaries(
    {},
    optional={
        b"user-agent": user_agents,
        b"referer": referrers,
        b"accept-language": languages,
        b"cookie": cookies,
        b"content-length": st.one_of(st.sampled_from(["12", "0012", "", "1e3", "²", "12345678901234567"]), latin1(5)),
        b"x-forwarded-for": chains,
        b"forwarded": forwarded,
        b"sec-gpc": st.sampled_from(["1", " 1 ", "0", "\x1f1"]),
        b"dnt": st.sampled_from(["1", "0"]),
        b"x-request-id": latin1(20),
        b"x-tenant": st.one_of(latin1(20), st.just("")),
        b"x-page": st.one_of(st.sampled_from(["12", "1234567", "date", "name", "\xc3\xa9", "550E8400-E29B-41D4-A716-446655440000"]), latin1(8)),
    },
)

facts = st.fixed_dictionaries(
    {},
    optional={
        "method": st.one_of(st.sampled_from(["GET", "POST", "PROPFIND", "get"]), st.text(max_size=6)),
        "scheme": st.sampled_from(["http", "https", "ws"]),
        "http_version": st.sampled_from(["1.1", "2", "3"]),
        "path": paths,
        "route": st.sampled_from(["/users/{id}", "/items/{item_id}", "/"]),
        "query": queries,
        "peer": st.one_of(addresses, st.sampled_from(["127.0.0.1", "10.0.0.2", "2001:db8:ffff::5"])),
        "client_port": st.integers(0, 65535),
        "headers": headers,
    },
)



def rare(common: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``common``, one time in ten ``odd`` (values the extension hands back to Python)."""
    return st.integers(0, 9).flatmap(lambda i: odd if i == 0 else common)


ints = rare(st.integers(0, 10**7), st.integers(-(2**70), 2**70))


@st.composite
def captures(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["http", "http", "http", "websocket", "auth", "other"]))
    extra: Any = None
    if draw(st.booleans()):
        if kind == "websocket":
            extra = draw(st.dictionaries(st.sampled_from(["messages_in", "messages_out", "bytes_in", "bytes_out", "close_code"]), st.one_of(st.none(), ints, st.floats(), st.booleans())))
        elif kind == "auth":
            extra = {"event": draw(st.sampled_from(["login_success", "logout", "é\x00"]))}
        else:
            extra = {"incomplete": draw(st.sampled_from([True, False, 1, 0, "", "x", None]))}
    start = draw(
        rare(
            st.integers(1_700_000_000 * 10**9, 1_800_000_000 * 10**9),
            st.one_of(st.integers(0, 253_402_300_799 * 10**9), st.integers(-(2**64), 2**70)),
        )
    )
    return make_capture(
        None if draw(st.integers(0, 30)) == 0 else draw(facts),
        kind=kind,
        start_ns=start,
        duration_ns=draw(rare(st.integers(0, 10**11), st.integers(-(2**70), 2**70))),
        status=draw(st.one_of(st.none(), st.integers(100, 599), ints, st.booleans())),
        request_bytes=draw(st.one_of(st.none(), ints)),
        response_bytes=draw(st.one_of(st.none(), ints)),
        user_id=draw(rare(st.one_of(st.none(), st.text(max_size=20)), st.just("a\ud800b"))),
        extra=extra,
    )


def policies() -> st.SearchStrategy[Policy]:
    """Any valid policy of one to three streams, of any events, with headers and proxies."""
    return random_policies(
        streams=st.integers(1, 3),
        params=PARAMS,
        shapes=SHAPES,
        max_allowed=4,
        cookies=COOKIES,
        purposes=["ops", "Sicherheit ✓"],
        stream_extras=st.fixed_dictionaries(
            {
                "events": st.lists(st.sampled_from(["http", "websocket", "auth"]), min_size=1, unique=True),
                "consent_gated": st.booleans(),
                "headers": st.dictionaries(st.sampled_from(HEADER_POOL), HEADER_SPECS, max_size=3),
            }
        ),
        policy_extras=st.sampled_from(["x-forwarded-for", "forwarded"]).map(
            lambda header: {"proxies": {"trusted": ["10.0.0.0/8", "127.0.0.1", "2001:db8:ffff::/48"], "header": header}}
        ),
    )


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class TestSameBytes:
    @SETTINGS
    @given(policies(), st.lists(captures(), min_size=1, max_size=8))
    def test_any_policy_and_captures_give_the_pythons_bytes(self, policy: Policy, caps: list[Any]) -> None:
        compare(policy, caps)

    @SETTINGS
    @given(st.lists(captures(), min_size=1, max_size=8))
    def test_the_full_example_policy(self, caps: list[Any]) -> None:
        compare(Policy.from_dict(FULL, environ=ENV), caps)

    def test_realistic_captures_need_no_fallback(self) -> None:
        caps = [
            make_capture(
                {"method": "GET", "scheme": "https", "http_version": "1.1", "path": f"/users/{i}", "query": b"page=2&q=x",
                 "peer": "10.0.0.2", "client_port": 5000 + i,
                 "headers": {b"user-agent": UAS[i % len(UAS)], b"x-forwarded-for": f"203.0.113.{i}", b"cookie": f"session=s{i}",
                             b"accept-language": "de", b"referer": "https://a.example/x", b"x-request-id": f"r{i}", b"x-tenant": "t"}},
                user_id=f"u{i}",
            )
            for i in range(50)
        ]
        assert compare(Policy.from_dict(FULL, environ=ENV), caps) == (0, 0)

    def test_unsupported_values_go_back_to_python_and_are_counted(self) -> None:
        caps = [make_capture({"path": "/a"}, user_id="a\ud800b"), make_capture({"path": "/a"}, status=2**65)]
        fallback, failed = compare(Policy.from_dict(FULL, environ=ENV), caps)
        assert (fallback, failed) == (2, 0)

    def test_a_capture_python_fails_on_fails_here_too(self) -> None:
        def broken(source: Any, wanted: Any) -> Any:
            raise RuntimeError("reader failed")

        caps = [make_capture({"path": "/a"}), make_capture({"path": "/b"})._replace(reader=broken)]
        assert compare(Policy.from_dict(FULL, environ=ENV), caps) == (0, 1)


class TestKeys:
    def test_key_epochs_cross_once_and_can_be_forgotten(self) -> None:
        policy = Policy.from_dict({**FULL, "secret": {"rotation": "daily"}}, environ=ENV)
        native = NativePipeline(Pipeline(policy))
        day = 86_400 * 10**9
        caps = [make_capture({"path": "/a", "peer": "198.51.100.7"}, start_ns=1_764_000_000 * 10**9 + d * day) for d in (0, 0, 1, 1, 2)]
        native.run(caps, 1)
        assert len(native._epochs) == 3
        native.forget_keys()
        assert native._epochs == {}
        compare(policy, caps)  # and the keys cross again as needed

    def test_a_shredded_epoch_skips_keyed_streams(self, tmp_path: Any) -> None:
        from privlog._keys.store import KeyStore

        KeyStore.init(tmp_path, rotation="daily", retention_days=90)
        policy = Policy.from_dict({**FULL, "secret": {"store": str(tmp_path)}}, environ={})
        old = make_capture({"path": "/a", "peer": "198.51.100.7"}, start_ns=10**18)  # before the store's first key
        compare(policy, [old, make_capture({"path": "/b"}, start_ns=10**18)])

    def test_each_capture_of_a_mixed_batch_gets_its_own_days_key(self) -> None:
        # The ring of the last day found serves the next captures of that day only.
        policy = Policy.from_dict({**FULL, "secret": {"rotation": "daily"}}, environ=ENV)
        day = 86_400 * 10**9
        base = 1_764_000_000 * 10**9 - 1_764_000_000 * 10**9 % day
        starts = [base, base + day - 1, base + day, base + 5, base + day + 7, base - 1, base - 1, base + 2 * day]
        caps = [make_capture({"path": f"/p{i}", "peer": "198.51.100.7"}, start_ns=s) for i, s in enumerate(starts)]
        compare(policy, caps)
        native = NativePipeline(Pipeline(policy))
        assert native._handles(caps) == [0, 0, 1, 0, 1, 2, 2, 3]

    def test_each_capture_of_a_day_without_a_key_is_counted(self, tmp_path: Any) -> None:
        from privlog._keys.store import KeyStore

        KeyStore.init(tmp_path, rotation="daily", retention_days=90)
        policy = Policy.from_dict({**FULL, "secret": {"store": str(tmp_path)}}, environ={})
        starts = [time.time_ns(), 10**18, time.time_ns(), 10**18, 10**18]
        caps = [make_capture({"path": "/a", "peer": "198.51.100.7"}, start_ns=s) for s in starts]
        native = NativePipeline(Pipeline(policy))
        native.run(caps, OBSERVED)
        python = Pipeline(policy)
        for capture in caps:
            python.process(capture)
        assert native.pipeline.unkeyed == python.unkeyed == 3

    def test_a_rotation_found_in_the_middle_of_a_batch_serves_the_captures_after_it(self, tmp_path: Any) -> None:
        # A lookup of a new day re-reads the store (``privlog keys rotate`` in another process):
        # the ring found before that lookup must not serve the captures after it, even when the
        # new day itself has no key. The Python path asks per capture and takes the new chain.
        from privlog._keys.store import KeyStore

        KeyStore.init(tmp_path, rotation="daily", retention_days=90)
        policy = Policy.from_dict({**FULL, "secret": {"store": str(tmp_path)}}, environ={})
        native = NativePipeline(Pipeline(policy))
        now = time.time_ns()
        native._handles([make_capture({"path": "/a"}, start_ns=now)])  # the store is read
        KeyStore.load(tmp_path).rotate()  # another process
        caps = [make_capture({"path": "/a", "peer": "198.51.100.7"}, start_ns=s) for s in (now, 10**18, now)]
        handles = native._handles(caps)
        rings = {handle: ring for ring, handle in native._epochs.values()}
        assert handles[1] == -1
        assert rings[handles[2]].key_id == KeyStore.load(tmp_path).ring_for(now).key_id
        assert rings[handles[2]].key_id != rings[handles[0]].key_id


def test_the_description_is_plain_data() -> None:
    assert available()
    description = describe(Pipeline(Policy.from_dict(FULL, environ=ENV)))
    assert description is not None
    assert [s["name"] for s in description["streams"]] == ["security", "analytics"]
    assert description["user_agent"]["uas"]
