"""``privlog anonymize`` on the compiled path against the Python path: the same bytes.

For arbitrary ``combined`` lines (well formed, half formed and garbage) and arbitrary valid
policies, the extension's output for a block of lines must equal what the Python path writes
for the same lines one by one, byte for byte, for ``--output same`` and ``--output json``, and
the counts must agree. The Python path is the reference: when these fail, the Rust side is
wrong. Skipped when the extension is not installed (``make test-python``).
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("privlog_native")

from privlog import Policy
from privlog._cli import main
from privlog._keys.store import KeyStore
from privlog._ops.anonymize import Anonymizer, python_line, run
from privlog._ops.anonymize_native import CompiledLines, compiled_lines
from privlog._ops.logformats import MAX_LINE, log_format

from ..support.policies import ENV, policy_dict
from ..support.policy_strategies import random_policies

EXAMPLES = Path(__file__).parents[2] / "examples"
SHIPPED = ["access-7-days.toml", "connections-30-days.toml", "security-90-days.toml"]
LATIN1 = st.characters(max_codepoint=255, exclude_characters="\n")
ASCII = st.characters(max_codepoint=127, exclude_characters="\n")  # escapes among long plain runs
PARAMS = ["page", "q", "sort", "é"]
SHAPES = st.one_of(st.sampled_from(["int", "uuid"]), st.lists(st.sampled_from(["date", "é", "1"]), min_size=1, unique=True))
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
]


def rare(common: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``common``, one time in ten ``odd`` (near misses the parser must refuse as Python does)."""
    return st.integers(0, 9).flatmap(lambda i: odd if i == 7 else common)  # not 0: shrinking's favourite


def text(alphabet: str, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), max_size=max_size)


def escaped(value: str, style: str) -> str:
    """A value as nginx (``\\x22``) or Apache (``\\"``) writes it in a quoted field."""
    if style == "nginx":
        return "".join(f"\\x{ord(c):02X}" if c in '"\\' or ord(c) < 0x20 or ord(c) > 0x7E else c for c in value)
    return "".join("\\" + c if c in '"\\' else c for c in value)


addresses = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"{a}:8080"),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]:443"),
    st.sampled_from(["::ffff:203.0.113.9", "2002:cb00:7109::1", "fe80::1%eth0", "unknown", "01.2.3.4", "-", "10.0.0.1", "10.1.2.3",
                     "::ffff:10.0.0.7", "2001:db8::5", "127.0.0.1"]),
)
PIECES = "abc019/.-_~%?=&;:@+é\xa0 \t\"\\[]"
targets = st.one_of(
    st.lists(
        st.one_of(st.sampled_from(["users", "4711", "jane@example.net", "550e8400-e29b-41d4-a716-446655440000", "%C3%A9",
                                   "%E2%80", "%D9%A1", "aGVsbG8tdG9rZW4tMTIzNDU2", "10.0.0.1", "x%2Fy"]), text(PIECES, 8)),
        max_size=4,
    ).map(lambda s: "/" + "/".join(s)),
    st.sampled_from(["*", "", "http://h.example/a?b=c"]),
).flatmap(
    lambda path: st.one_of(
        st.just(path),
        st.lists(st.tuples(st.sampled_from([*PARAMS, "x", ""]), st.sampled_from(["1", "12", "date", "é", "", "a+b", "%41"])), max_size=3).map(
            lambda ps: path + "?" + "&".join(f"{n}={v}" for n, v in ps)
        ),
    )
)
requests = rare(
    st.tuples(
        st.sampled_from(["GET", "POST", "PROPFIND", "get", "GÉT", "PROP_FIND", "X" * 21, "", "G1"]),
        targets,
        st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/3.0", "HTTP/2", "HTTP/9.9", "HTTP/1.", "", "http/1.1"]),
    ).map(lambda t: " ".join(x for x in t if x) if t[2] else f"{t[0]} {t[1]}"),
    text(PIECES + "GETHP/1 ", 30),
)


@st.composite
def clf_times(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 7:
        return draw(st.one_of(st.sampled_from(["31/Feb/2026:10:00:00 +0000", "10/oct/2026:13:55:36 +0000", "10/Oct/2026:24:00:00 +0000",
                                               "10/Oct/0000:13:55:36 +0000", "10/Oct/2026:13:55:36 0000", "1/Oct/2026:13:55:36 +0000"]),
                              text("0123456789/:+- OctJan", 26)))
    moment = draw(st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31)))
    minutes = draw(st.sampled_from([0, 60, -420, 330, 59, -1439]))
    local = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    return local.strftime("%d/%b/%Y:%H:%M:%S %z")


@st.composite
def combined_lines(draw: st.DrawFn) -> bytes:
    """One line of nginx's or Apache's combined format, its ``main`` variant, or a near miss."""
    style = draw(rare(st.sampled_from(["nginx", "apache"]), st.just("raw")))

    def field(value: str) -> str:
        return value if style == "raw" else escaped(value, style)

    user = draw(st.one_of(st.just("-"), text("abjé.-@\\\"", 10).filter(bool)))
    line = (
        f"{draw(addresses)} - {user} [{draw(clf_times())}] "
        f'"{field(draw(requests))}" {draw(rare(st.sampled_from(["200", "404", "-", "302"]), st.sampled_from(["2000", "20", "x"])))} '
        f'{draw(rare(st.sampled_from(["0", "512", "-", "1234567890123456789"]), st.sampled_from(["12345678901234567890", "1a", ""])))}'
    )
    if draw(st.integers(0, 4)) != 2:
        referrer = draw(st.one_of(st.sampled_from(["-", "https://Mail.Example.com/inbox?x=1", "http://u:p@203.0.113.7:8080/a"]), text(PIECES, 20)))
        ua = draw(st.one_of(st.sampled_from([*UAS, "-", ""]), st.text(LATIN1, max_size=30), st.text(ASCII, min_size=8, max_size=40)))
        line += f' "{field(referrer)}" "{field(ua)}"'
    extra = draw(st.integers(0, 5))
    if extra in (1, 4):
        line += ' "-"'
    elif extra in (2, 5):
        line += ' "' + ", ".join(draw(st.lists(addresses, min_size=1, max_size=3))) + '"'
    elif extra == 3:
        line += f' "{field(draw(st.text(LATIN1, max_size=15)))}"'
    if draw(st.integers(0, 5)) == 3:
        line += draw(st.sampled_from([" rt=0.012", ' "x" 203.0.113.9', " ", "x"]))
    if draw(st.integers(0, 7)) == 5:
        line += "\r"
    return line.encode("latin-1")


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    """A line with a few hostile edits: NULs, CRs and Latin-1 white space (``\\x85``, ``\\xa0``,
    which Python's ``\\s`` matches) where separators go, stray quotes and backslashes, and
    addresses or identifiers dropped into any field."""
    line = draw(combined_lines())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(line)))
        insert = draw(
            st.sampled_from([b" ", b"\x85", b"\xa0", b"\t", b"\x00", b"\r", b"\x1c", b'"', b"\\", b"[", b"]", b"\\x", b'\\"', b"\xff",
                             b"203.0.113.9", b"[2001:db8::1]:80", b"10.0.0.1, 10.0.0.2", b"jane@example.com", b"session=abc", b""])
        )
        cut = draw(st.integers(0, 1))
        line = line[:at] + insert + line[at + cut :]
    return line.replace(b"\n", b" ")


garbage = st.one_of(st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")), st.text(LATIN1, max_size=60).map(lambda t: t.encode("latin-1")))
lines = st.one_of(combined_lines(), combined_lines(), combined_lines(), mutated_lines(), garbage)


def policies(streams: int = 1) -> st.SearchStrategy[Policy]:
    """A valid policy whose streams all take http requests (no geo database), perhaps behind
    trusted proxies."""
    proxies = st.fixed_dictionaries(
        {
            "trusted": st.lists(
                st.sampled_from(["10.0.0.0/8", "127.0.0.1", "2001:db8::/32", "::ffff:10.0.0.0/104", "0.0.0.0/0"]),
                min_size=1,
                unique=True,
            ),
            "header": st.sampled_from(["x-forwarded-for", "forwarded"]),
        }
    )
    return random_policies(
        streams=st.just(streams),
        params=PARAMS,
        shapes=SHAPES,
        max_allowed=3,
        cookies=["session"],
        policy_extras=st.one_of(st.just({}), proxies.map(lambda p: {"proxies": p})),
    )


def both(policy: Policy, fmt: str, output: str, stream: str | None = None) -> tuple[Anonymizer, Anonymizer, CompiledLines]:
    python = Anonymizer(policy, log_format(fmt), output, stream)
    native = Anonymizer(policy, log_format(fmt), output, stream)
    compiled = compiled_lines(native)
    assert compiled is not None
    return python, native, compiled


def compare(policy: Policy, fmt: str, output: str, block: list[bytes], stream: str | None = None) -> CompiledLines:
    """The compiled path's output for the lines as one block equals the Python path's, line
    by line, and so do the counts (twice: the second time every day's key is known)."""
    python, native, compiled = both(policy, fmt, output, stream)
    data = b"".join(line + b"\n" for line in block)
    for _ in range(2):
        want = b"".join(python_line(python, raw[:MAX_LINE], len(raw) > MAX_LINE) for raw in block)
        assert compiled.block(data) == want
    assert native.counts == python.counts
    return compiled


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class TestSameBytes:
    @SETTINGS
    @given(policies(), st.sampled_from(["nginx-combined", "apache-combined"]), st.lists(lines, min_size=1, max_size=8))
    def test_any_policy_and_lines_written_back(self, policy: Policy, fmt: str, block: list[bytes]) -> None:
        compare(policy, fmt, "same", block)

    @SETTINGS
    @given(st.integers(1, 3).flatmap(lambda n: policies(streams=n)), st.lists(lines, min_size=1, max_size=8))
    def test_any_policy_and_lines_as_records(self, policy: Policy, block: list[bytes]) -> None:
        compare(policy, "nginx-combined", "json", block)

    @SETTINGS
    @given(st.sampled_from(SHIPPED), st.sampled_from(["same", "json"]), st.lists(lines, min_size=1, max_size=8))
    def test_the_shipped_policies(self, name: str, output: str, block: list[bytes]) -> None:
        policy = Policy.from_toml(EXAMPLES / name, environ=ENV)
        stream = next(s.name for s in policy.streams if "http" in s.events and not s.consent_gated)
        compare(policy, "nginx-combined", output, block, stream)

    def test_realistic_lines_need_no_fallback(self) -> None:
        block = [
            f'203.0.113.{i} - - [29/Nov/2026:08:00:{i % 60:02d} +0000] "GET /users/{i}/orders?page=2&q=x HTTP/1.1" 200 {i * 7} '
            f'"https://shop.example.com/cart?id={i}" "{UAS[i % len(UAS)]}"'.encode()
            for i in range(50)
        ] + [b'2001:db8::7 - - [29/Nov/2026:09:00:00 +0100] "POST /login HTTP/2.0" 302 0 "-" "-" "198.51.100.4, 10.0.0.1"']
        fields = {"method": "keep", "path": "template", "query": {"action": "allowlist", "allow": ["page"]}, "status": "keep",
                  "client_ip": "hash", "user_agent": "generalise", "referrer": "origin", "user_id": "pseudonymise"}
        for output in ("same", "json"):
            compiled = compare(Policy.from_dict(policy_dict(**fields), environ=ENV), "nginx-combined", output, block)
            assert compiled.fallback == 0  # a new day's key is fetched, and the run goes on

    def test_lines_the_extension_cannot_write_go_back_to_python(self) -> None:
        block = [b"not a log line 203.0.113.9", b'203.0.113.9 - - [29/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-" rt=0.1', b"x" * (MAX_LINE + 5)]
        compiled = compare(Policy.from_dict(policy_dict(), environ=ENV), "nginx-combined", "same", block)
        assert compiled.fallback == 2 * len(block)


class TestKeyStore:
    def test_days_without_a_key_are_skipped_and_counted_as_on_the_python_path(self, tmp_path: Path) -> None:
        KeyStore.init(tmp_path / "keys", "daily", 30)
        data = policy_dict(client_ip="hash", path="template", status="keep")
        data["secret"] = {"store": str(tmp_path / "keys")}
        policy = Policy.from_dict(data, environ={})
        now = datetime.now(timezone.utc)
        stamps = [now, now - timedelta(days=400), now + timedelta(days=30), now - timedelta(minutes=5)]
        block = [
            f'203.0.113.{i} - - [{t.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "GET /users/{i} HTTP/1.1" 200 1 "-" "-"'.encode()
            for i, t in enumerate(stamps)
        ]
        for output in ("same", "json"):
            compiled = compare(policy, "nginx-combined", output, block)
            assert compiled.anonymizer.counts.no_key == 4  # the old and the future line, twice
            assert compiled.fallback == 4  # those, on the Python path: skipped and counted there


class TestWhereItApplies:
    def test_other_formats_and_outputs_stay_on_the_python_path(self) -> None:
        policy = Policy.from_dict(policy_dict(), environ=ENV)
        assert compiled_lines(Anonymizer(policy, log_format("caddy-json"), "same")) is None
        assert compiled_lines(Anonymizer(policy, log_format("nginx-combined"), "none")) is None

    def test_turned_off_by_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PRIVLOG_NATIVE", "0")
        assert compiled_lines(Anonymizer(Policy.from_dict(policy_dict(), environ=ENV), log_format("nginx-combined"))) is None


class TestSummary:
    def test_the_exit_summary_counts_the_lines_handed_back(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``privlog anonymize`` on the compiled path says so at exit, with the number of lines
        the extension handed to the Python path (the one that did not parse), never their text."""
        monkeypatch.setenv("PRIVLOG_SECRET", ENV["PRIVLOG_SECRET"])
        monkeypatch.delenv("PRIVLOG_NATIVE", raising=False)
        policy = tmp_path / "policy.toml"
        policy.write_text(
            'service = "t"\n[retention.a]\ndays = 7\npurpose = "ops"\nlegal_basis = "legitimate interest"\n'
            '[streams.access]\nretention = "a"\n[streams.access.fields]\nmethod = "keep"\npath = "template"\n'
            'status = "keep"\nclient_ip = "hash"\n'
        )
        lines = [
            f'203.0.113.{i} - - [29/Nov/2026:08:00:0{i} +0000] "GET /users/{i} HTTP/1.1" 200 1 "-" "{UAS[i]}"'
            for i in range(3)
        ] + ["not a log line from 192.0.2.8"]
        src = tmp_path / "access.log"
        src.write_text("".join(line + "\n" for line in lines))
        out = tmp_path / "out.log"
        assert main(["anonymize", "--policy", str(policy), str(src), "-o", str(out)]) == 0
        (summary,) = capsys.readouterr().err.splitlines()
        assert summary.startswith("privlog anonymize: 4 lines: 3 anonymised, 1 did not parse")
        assert summary.endswith("; compiled path, 1 through the Python path")
        assert "192.0.2.8" not in summary
        assert "not a log line" not in summary
        assert out.read_text().count("\n") == 4


def _through(anonymizer: Anonymizer, data: bytes, pieces: int) -> bytes:
    """``run`` over a pipe fed in ``pieces`` writes (lines split across reads)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    got: list[bytes] = []

    def drain() -> None:
        while chunk := os.read(out_r, 1 << 16):
            got.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()

    def feed() -> None:
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            os.write(in_w, data[i : i + step])
        os.close(in_w)

    writer = threading.Thread(target=feed)
    writer.start()
    run(anonymizer, in_r, out_w)
    writer.join()
    os.close(out_w)
    reader.join()
    os.close(in_r)
    os.close(out_r)
    return b"".join(got)


class TestRun:
    @pytest.mark.parametrize("output", ["same", "json"])
    def test_a_pipe_gives_the_same_bytes_on_both_paths(self, output: str, monkeypatch: pytest.MonkeyPatch) -> None:
        block = [
            f'198.51.100.{i} - - [29/Nov/2026:08:00:00 +0000] "GET /a/{i}?page={i} HTTP/1.1" 200 {i} "-" "{UAS[i % 5]}"'.encode()
            for i in range(300)
        ]
        block[7] = b"x" * (MAX_LINE + 100)  # over-long: cut, scrubbed, counted
        block[9] = b"garbage 203.0.113.9"
        data = b"\n".join(block) + b"\nlast line without newline 192.0.2.1"
        policy = Policy.from_dict(policy_dict(), environ=ENV)
        native = Anonymizer(policy, log_format("nginx-combined"), output)
        got = _through(native, data, 7)
        monkeypatch.setenv("PRIVLOG_NATIVE", "0")
        python = Anonymizer(policy, log_format("nginx-combined"), output)
        assert got == _through(python, data, 7)
        assert native.counts == python.counts
        assert native.counts.lines == 301


class TestAPanicInTheExtension:
    """A Rust panic reaches Python as PyO3's ``PanicException`` (a BaseException): ``privlog
    anonymize`` must not stop there, losing the rest of the log, but go on the Python path."""

    class Panics:
        """The extension's line anonymizer, panicking at its ``after``-th run (0: the first)."""

        def __init__(self, real: Any, exc: type[BaseException], after: int) -> None:
            self.real, self.exc, self.after = real, exc, after

        def run(self, data: bytes, position: int = 0, end: int | None = None) -> Any:
            if self.after == 0:
                raise self.exc("index out of bounds")
            self.after -= 1
            return self.real.run(data, position, end)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    @pytest.mark.parametrize("output", ["same", "json"])
    @pytest.mark.parametrize("after", [0, 2])  # at once, or after two runs did part of the block
    def test_the_block_and_the_rest_go_the_python_way(self, output: str, after: int, monkeypatch: pytest.MonkeyPatch) -> None:
        from privlog_native._native import PanicException

        # Two days: the first run stops at the first line (its day's key is not held yet), the
        # second at the first line of the next day, the third takes the rest.
        block = [
            f'198.51.100.{i} - - [{28 + i // 10}/Nov/2026:08:00:00 +0000] "GET /a/{i}?page={i} HTTP/1.1" 200 {i} "-" "{UAS[i % 5]}"'.encode()
            for i in range(20)
        ] + [b"garbage 203.0.113.9", b"x" * (MAX_LINE + 3), b""]
        python, native, compiled = both(Policy.from_dict(policy_dict(client_ip="hash"), environ=ENV), "nginx-combined", output)
        monkeypatch.setattr(compiled, "lines", self.Panics(compiled.lines, PanicException, after))
        data = b"".join(line + b"\n" for line in block)
        for _ in range(2):
            want = b"".join(python_line(python, raw[:MAX_LINE], len(raw) > MAX_LINE) for raw in block)
            assert compiled.block(data) == want
        assert native.counts == python.counts
        assert compiled.failed
        assert native.counts.lines == 2 * len(block)
        if after == 0:
            assert compiled.fallback == 2 * len(block)  # every line the extension did not do is counted
        else:
            assert 10 <= compiled.fallback < 2 * len(block)  # the first day's lines were done there
