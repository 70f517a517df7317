"""Properties of ``privlog anonymize``: no address from a log line reaches the output, whatever
the line (any format, or garbage), unless the policy keeps it."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privlog import Policy
from privlog._ops.anonymize import Anonymizer
from privlog._ops.anonymize_native import compiled_lines
from privlog._ops.lineinput import LineInput
from privlog._ops.logformats import MAX_LINE, log_format

from ..support.policies import ENV, policy_dict

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_RUN = re.compile(r"[0-9A-Fa-f:.]+")
ACTIONS = ("truncate", "hash", "cryptopan", None)
UAS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "curl/8.5.0",
    "Mozilla/5.0 (compatible; {addr}; +http://{addr}/bot.html)",
    "Mozilla/5.0 ({addr}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "{addr}",
)
SAFE_TEXT = st.text(alphabet="abcxyz-_~.", max_size=8)
SEPARATORS = st.one_of(
    st.sampled_from([" ", ",", ", ", ";", "=", "'", "(", ")", "<", ">", " for=", " client: ", "|"]),
    st.text(alphabet=" ,;=()[]<>\"'/:@?&#|\\\t", min_size=1, max_size=3),  # colons glue addresses too
)


def addresses_in(text: str) -> set[Address]:
    """Every address written in ``text``, also with a port or between brackets."""
    found: set[Address] = set()
    for run in _RUN.findall(text):
        candidates = {run, run.strip(":.")}
        if run.count(":") == 1:
            candidates.add(run.split(":")[0])
        for candidate in candidates:
            with contextlib.suppress(ValueError):
                found.add(ipaddress.ip_address(candidate))
    for address in list(found):  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            found.add(address.ipv4_mapped)
    return found


def kept_by_truncation(address: Address) -> bool:
    """Truncation to /24 or /48 gives the address itself: it had no host bits to hide."""
    prefix = 24 if address.version == 4 else 48
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address == address


def anonymizer(fmt: str, action: str | None) -> Anonymizer:
    fields: dict[str, Any] = {
        "method": "keep",
        "path": "template",
        "query": {"action": "allowlist", "allow": ["page", "q"], "values": {"page": "int"}},
        "status": "keep",
        "referrer": "origin",
        "user_agent": "generalise",
    }
    if action is not None:
        fields["client_ip"] = action
    return Anonymizer(Policy.from_dict(policy_dict(**fields), environ=ENV), log_format(fmt), "same")


def assert_no_address_leaks(anon: Anonymizer, action: str | None, line: str, planted: list[Address]) -> None:
    """Neither path (the Python one, and the compiled one where the extension takes the format)
    writes an address of the line."""
    out = anon.line(line)
    assert isinstance(out, str)
    assert_none_in(out, action, line, planted)
    compiled = compiled_lines(anon)  # None without the extension (make test-python)
    if compiled is not None:
        data = line.encode() + b"\n"
        for _ in range(2):  # the first pass learns the line's day key
            assert_none_in(compiled.block(data).decode("latin-1"), action, line, planted)


def assert_none_in(out: str, action: str | None, line: str, planted: list[Address]) -> None:
    # ``::`` and ``0.0.0.0`` identify no one, and ``::`` is also plain punctuation in a scrubbed path
    given_addresses = {a for a in addresses_in(line) | set(planted) if not a.is_unspecified}
    allowed = {a for a in given_addresses if action == "truncate" and kept_by_truncation(a)}
    leaked = (addresses_in(out) & given_addresses) - allowed
    assert not leaked, f"{leaked} in {out!r}"
    for address in planted:
        if address in given_addresses and address not in allowed:
            assert str(address) not in out


def _fill(template: str, addrs: list[Address]) -> str:
    for a in addrs:
        template = template.replace("{addr}", str(a), 1)
    return template.replace("{addr}", "x")


ADDRS = st.lists(st.ip_addresses(), min_size=8, max_size=8)


class TestNoAddressLeaves:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.sampled_from(ACTIONS),
        st.sampled_from(["nginx-combined", "apache-combined"]),
        ADDRS,
        st.sampled_from(UAS),
        SAFE_TEXT,
        st.booleans(),
        SEPARATORS,
    )
    def test_combined_lines(
        self, action: str | None, fmt: str, addrs: list[Address], ua: str, word: str, xff: bool, sep: str
    ) -> None:
        a = [str(x) for x in addrs]
        line = (
            f'{a[0]} - - [10/Oct/2026:13:55:36 +0000] "GET /{word}/{a[1]}/x{sep.strip()}{a[2]}?page=2&q={a[3]}&x={a[4]} HTTP/1.1" '
            f'200 512 "https://ref.example/{a[5]}?u={a[5]}" "{_fill(ua, addrs[6:7])}"'
        )
        if xff:
            line += f' "{a[7]}, {a[1]}"'
        else:
            line += f" rt=0.01{sep}up={a[7]}{sep}{word}"
        anon = anonymizer(fmt, action)
        assert_no_address_leaks(anon, action, line, addrs)

    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(ACTIONS), ADDRS, st.sampled_from(UAS), SAFE_TEXT)
    def test_caddy_lines(self, action: str | None, addrs: list[Address], ua: str, word: str) -> None:
        a = [str(x) for x in addrs]
        line = orjson.dumps(
            {
                "ts": 1791640536.25,
                "request": {
                    "remote_ip": a[0],
                    "remote_port": "5000",
                    "client_ip": a[0],
                    "method": "GET",
                    "host": a[1],
                    "uri": f"/{word}/{a[2]}?q={a[3]}",
                    "headers": {
                        "User-Agent": [_fill(ua, addrs[4:5])],
                        "Referer": [f"https://ref.example/{a[5]}"],
                        "X-Forwarded-For": [f"{a[6]}, {a[7]}"],
                        "X-Real-Ip": [a[6]],
                        "Cookie": [f"ip={a[7]}"],
                    },
                    "tls": {"server_name": a[1]},
                },
                "status": 200,
                "resp_headers": {"Location": [f"https://{a[2]}/"]},
            }
        ).decode()
        assert_no_address_leaks(anonymizer("caddy-json", action), action, line, list(addrs))

    @settings(max_examples=100, deadline=None)
    @given(st.sampled_from(ACTIONS), ADDRS, SAFE_TEXT, SEPARATORS)
    def test_regex_lines(self, action: str | None, addrs: list[Address], word: str, sep: str) -> None:
        a = [str(x) for x in addrs]
        fmt = r"regex:(?P<client>\S+) (?P<method>\S+) (?P<target>\S+) (?P<status>\d+)"
        line = f"{a[0]} GET /{word}/{a[1]}?q={a[2]} 200 via{sep}{a[3]}{sep}{word}{sep}{a[4]}"
        assert_no_address_leaks(anonymizer(fmt, action), action, line, addrs[:5])

    @settings(max_examples=300, deadline=None)
    @given(
        st.sampled_from(ACTIONS),
        st.sampled_from(["nginx-combined", "apache-combined", "caddy-json"]),
        st.lists(st.tuples(st.text(max_size=12), SEPARATORS, st.ip_addresses()), max_size=6),
        st.text(max_size=20),
    )
    def test_garbage_lines(
        self, action: str | None, fmt: str, pieces: list[tuple[str, str, Address]], tail: str
    ) -> None:
        line = "".join(f"{text}{sep}{addr}{sep}" for text, sep, addr in pieces) + tail
        line = line.replace("\n", " ")
        anon = anonymizer(fmt, action)
        assert_no_address_leaks(anon, action, line, [p[2] for p in pieces])

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(ACTIONS), st.text(max_size=200))
    def test_any_text(self, action: str | None, text: str) -> None:
        text = text.replace("\n", " ")
        assert_no_address_leaks(anonymizer("nginx-combined", action), action, text, [])


class _Reads(LineInput):
    """An input whose reads are given: each call to ``_read`` returns the next one."""

    def __init__(self, reads: list[bytes]) -> None:
        super().__init__(-1)
        self.reads = iter(reads)

    def _read(self) -> bytes:
        return next(self.reads, b"")


def _lines(reads: list[bytes], whole: bool) -> list[tuple[bytes, bool]]:
    """The (line, too_long) an input yields, its spans of whole lines cut as the line loop cuts."""
    out: list[tuple[bytes, bool]] = []
    for chunk in _Reads(reads).chunks(whole):
        if isinstance(chunk, tuple):
            data, start, end = chunk
            assert data[end - 1 : end] == b"\n"
            out += [(raw[:MAX_LINE], len(raw) > MAX_LINE) for raw in data[start : end - 1].split(b"\n")]
        else:
            out += chunk
    return out


pieces = st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\n\n", b"x" * 30_000, b"203.0.113.9 "]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces.map(b"".join), max_size=10))
def test_spans_of_whole_lines_are_the_lines_of_the_reads(reads: list[bytes]) -> None:
    """The compiled path's spans (no copy of a read) hold the same lines as the Python path's
    split, over-long ones cut and flagged alike, whatever the reads' boundaries."""
    assert _lines(reads, whole=True) == _lines(reads, whole=False)
