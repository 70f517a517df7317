"""``privlog anonymize``: log lines through the policy, written back or as records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privlog import Policy
from privlog._cli import main
from privlog._errors import UsageError
from privlog._ops.anonymize import Anonymizer, run
from privlog._ops.logformats import MAX_LINE, log_format

from ..support.policies import ENV, SECRET, policy_dict
from ..support.sinks import ListSink

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
NGINX = (
    '203.0.113.77 - jane [10/Oct/2026:13:55:36 +0200] "GET /users/4711/orders?page=2&email=jane%40example.com HTTP/1.1" '
    f'200 2326 "https://news.example.com/a?id=99" "{UA}"'
)
NGINX_MAIN = NGINX + ' "198.51.100.4, 10.1.2.3"'
#: Fields after NGINX's with addresses, for lines that end somewhere inside them.
TAIL = b' "198.51.100.4, 2001:db8:85a3:8d3:1319:8a2e:370:7334" "x 2001:db8:85a3:8d3:1319:8a2e:370:7335"'
CADDY = orjson.dumps(
    {
        "level": "info",
        "ts": 1791640536.25,  # 2026-10-10T13:55:36.250Z
        "logger": "http.log.access",
        "msg": "handled request",
        "request": {
            "remote_ip": "2001:db8:aa:bb::17",
            "remote_port": "51234",
            "client_ip": "2001:db8:aa:bb::17",
            "proto": "HTTP/2.0",
            "method": "GET",
            "host": "shop.example.com",
            "uri": "/files/jane@example.com/report.pdf?page=3&token=s3cr3t",
            "headers": {
                "User-Agent": [UA],
                "Referer": ["https://mail.example.net/inbox/77"],
                "Cookie": ["sid=s3ss10n-t0ken"],
                "Authorization": ["Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2ln"],
            },
            "tls": {"resumed": False, "version": 772, "server_name": "shop.example.com"},
        },
        "bytes_read": 0,
        "user_id": "jane",
        "duration": 0.0123,
        "size": 5120,
        "status": 200,
        "resp_headers": {"Content-Type": ["application/pdf"], "Set-Cookie": ["sid=new-s3ss10n"]},
    }
).decode()
PLANTED = ("203.0.113.77", "jane", "4711", "example.com/a", "99", "Win64", "s3cr3t", "s3ss10n", "eyJhbGci")

QUERY = {"action": "allowlist", "allow": ["page"], "values": {"page": "int"}}


def policy(**fields: Any) -> Policy:
    return Policy.from_dict(policy_dict(**fields) if fields else policy_dict(), environ=ENV)


def anonymizer(fmt: str = "nginx-combined", output: str = "same", **fields: Any) -> Anonymizer:
    return Anonymizer(policy(**fields), log_format(fmt), output)


class TestCombined:
    def test_the_line_keeps_its_format_with_every_field_transformed(self) -> None:
        out = anonymizer(query=QUERY, **policy_dict()["streams"]["access"]["fields"]).line(NGINX)
        assert out == (
            '203.0.113.0 - - [10/Oct/2026:13:55:36 +0200] "GET /users/{id}/orders?page=2" 200 - '
            '"https://news.example.com" "Chrome 131 / Windows / desktop"'
        )

    def test_x_forwarded_for_hops_get_the_client_address_action(self) -> None:
        out = anonymizer().line(NGINX_MAIN)
        assert isinstance(out, str)
        assert out.endswith(' "198.51.100.0,10.1.2.0"')
        assert "198.51.100.4" not in out

    def test_an_empty_x_forwarded_for_field_stays_in_its_column(self) -> None:
        out = anonymizer().line(NGINX + ' "-"')
        assert isinstance(out, str)
        assert out.endswith('"Chrome 131 / Windows / desktop" "-"')

    def test_an_unusual_request_line_takes_the_slow_path_to_the_same_facts(self) -> None:
        anon = anonymizer("nginx-combined", "json", method="keep", http_version="keep", path="scrub")
        line = '192.0.2.1 - - [10/Oct/2026:13:55:36 +0000] "PROPFIND /a\\x22b/9 HTTP/1.1" 207 0 "-" "-"'
        out = anon.line(line)
        assert isinstance(out, list)
        rec = orjson.loads(out[0])
        assert (rec["http.request.method"], rec["network.protocol.version"]) == ("_OTHER", "1.1")
        assert rec["url.path"] == '/a"b/{id}'

    def test_the_client_is_the_right_most_untrusted_hop_when_the_peer_is_a_trusted_proxy(self) -> None:
        data = policy_dict()
        data["proxies"] = {"trusted": ["203.0.113.0/24", "10.0.0.0/8"]}
        anon = Anonymizer(Policy.from_dict(data, environ=ENV), log_format("nginx-combined"), "json")
        out = anon.line(NGINX_MAIN)
        assert isinstance(out, list)
        assert orjson.loads(out[0])["client.address"] == "198.51.100.0"

    def test_apache_escapes_are_undone_for_the_record_and_written_back_apache_style(self) -> None:
        line = (
            '192.0.2.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a\\"b HTTP/1.0" 404 - "-" '
            '"Mozilla/5.0 \\"quoted\\" 192.0.2.9"'
        )
        anon = anonymizer("apache-combined", user_agent="keep", path="keep", client_ip="truncate")
        out = anon.line(line)
        assert (
            out
            == '192.0.2.0 - - [10/Oct/2026:13:55:36 +0000] "- /a\\"b" - - "-" "Mozilla/5.0 \\"quoted\\" 192.0.2.9"'
        )

    def test_nginx_hex_escapes_are_undone_and_written_back_as_hex(self) -> None:
        line = '192.0.2.1 - - [10/Oct/2026:13:55:36 +0000] "GET /x HTTP/1.1" 200 5 "-" "A\\x22B\\xC3\\xA9"'
        out = anonymizer(user_agent="keep").line(line)
        assert out == '- - - [10/Oct/2026:13:55:36 +0000] "- -" - - "-" "A\\x22B\\xC3\\xA9"'

    def test_extra_trailing_fields_are_scrubbed_as_free_text(self) -> None:
        line = NGINX + ' "shop.example.com" rt=0.012 uid=jane.doe@example.org up=10.0.0.7:8080'
        out = anonymizer().line(line)
        assert isinstance(out, str)
        assert out.endswith(' "shop.example.com" rt=0.012 uid={email} up=10.0.0.0:8080')

    def test_a_line_that_does_not_parse_is_scrubbed_and_counted(self) -> None:
        anon = anonymizer()
        text = (
            "2026/10/10 13:55:38 [error] 12#0: *5 open() failed, client: 192.0.2.55, server: x, "
            'request: "GET /x?token=abcdef HTTP/1.1", host: "x", user jane@example.com, '
            "Authorization: Bearer abcdefghijklmnop, from 2001:db8::77"
        )
        out = anon.line(text)
        assert out == (
            "2026/10/10 13:55:38 [error] 12#0: *5 open() failed, client: 192.0.2.0, server: x, "
            'request: "GET /x?{query} HTTP/1.1", host: "x", user {email}, '
            "Authorization: Bearer {token}, from 2001:db8::"
        )
        assert (anon.counts.lines, anon.counts.parsed, anon.counts.unparsed) == (1, 0, 1)

    def test_without_client_ip_in_the_policy_every_address_goes(self) -> None:
        out = anonymizer(path="scrub", status="keep").line(NGINX_MAIN)
        assert out == '- - - [10/Oct/2026:13:55:36 +0200] "- /users/{id}/orders" 200 - "-" "-" "{ip},{ip}"'

    def test_a_remote_user_is_written_only_as_the_policy_treats_user_id(self) -> None:
        out = anonymizer(user_id="pseudonymise", client_ip="truncate").line(NGINX)
        assert isinstance(out, str)
        user = out.split(" ")[2]
        assert user not in ("-", "jane")
        assert "jane" not in out

    def test_keyed_hash_and_crypto_pan_use_the_policy_key(self) -> None:
        hashed = anonymizer(client_ip="hash").line(NGINX_MAIN)
        pan = anonymizer(client_ip="cryptopan").line(NGINX_MAIN)
        assert isinstance(hashed, str)
        assert isinstance(pan, str)
        for out in (hashed, pan):
            assert "203.0.113.77" not in out
            assert "198.51.100.4" not in out
            assert SECRET not in out
        assert pan.split(" ")[0].count(".") == 3  # Crypto-PAn keeps the address form
        again = anonymizer(client_ip="hash").line(NGINX_MAIN)
        assert hashed == again  # the same key gives the same pseudonym


class TestCaddy:
    def test_only_known_keys_survive_and_credentials_never(self) -> None:
        anon = anonymizer(
            "caddy-json",
            query=QUERY,
            duration="keep",
            client_port="keep",
            **policy_dict()["streams"]["access"]["fields"],
        )
        out = anon.line(CADDY)
        assert isinstance(out, str)
        obj = orjson.loads(out)
        assert obj["request"]["remote_ip"] == "2001:db8:aa::"
        assert obj["request"]["uri"] == "/files/{email}/report.pdf?page=3"
        assert obj["request"]["headers"] == {
            "User-Agent": ["Chrome 131 / Windows / desktop"],
            "Referer": ["https://mail.example.net"],
        }
        assert obj["resp_headers"] == {"Content-Type": ["application/pdf"]}
        assert obj["status"] == 200
        assert obj["duration"] == 0.0123
        assert obj["request"]["remote_port"] == "51234"
        assert "user_id" not in obj
        for planted in ("s3cr3t", "s3ss10n", "eyJhbGci", "jane", "2001:db8:aa:bb::17"):
            assert planted not in out

    def test_json_records_carry_the_retention_tags(self) -> None:
        out = anonymizer("caddy-json", "json").line(CADDY)
        assert isinstance(out, list)
        rec = orjson.loads(out[0])
        assert rec["timestamp"] == "2026-10-10T13:55:36.250Z"
        assert rec["privlog.retention.days"] == 7
        assert rec["privlog.retention.expires_at"] == "2026-10-17T13:55:36.250Z"


class TestRegex:
    PATTERN = (
        r"(?P<time>\S+) (?P<client>\S+) (?P<method>\S+) (?P<target>\S+) (?P<status>\d+) ua=\"(?P<ua>[^\"]*)\""
    )

    def test_groups_are_replaced_and_the_text_between_is_scrubbed(self) -> None:
        line = (
            f'2026-10-10T11:55:36+00:00 192.0.2.44 GET /u/jane@example.com?x=1 200 ua="{UA}" from 192.0.2.44'
        )
        anon = anonymizer(f"regex:{self.PATTERN}")
        out = anon.line(line)
        assert out == (
            '2026-10-10T11:55:36+00:00 192.0.2.0 GET /u/{email} 200 ua="Chrome 131 / Windows / desktop" from 192.0.2.0'
        )

    @pytest.mark.parametrize(
        ("pattern", "message"),
        [
            ("(?P<client>\\S+", "not a valid regex"),
            ("(?P<cleint>\\S+)", "unknown group name 'cleint'"),
            ("\\S+", "no named groups"),
        ],
    )
    def test_a_bad_pattern_fails_at_start_up(self, pattern: str, message: str) -> None:
        with pytest.raises(UsageError, match=message):
            log_format(f"regex:{pattern}")


class TestStreams:
    def test_several_http_streams_need_a_stream_name_to_write_lines_back(self) -> None:
        data = policy_dict()
        data["streams"]["other"] = {"retention": "access", "fields": {"status": "keep"}}
        pol = Policy.from_dict(data, environ=ENV)
        with pytest.raises(UsageError, match="pass --stream NAME, one of: access, other"):
            Anonymizer(pol, log_format("nginx-combined"), "same")
        both = Anonymizer(pol, log_format("nginx-combined"), "json").line(NGINX)
        assert isinstance(both, list)
        assert len(both) == 2

    def test_a_consent_gated_stream_is_refused(self) -> None:
        data = policy_dict()
        data["streams"]["access"]["consent_gated"] = True
        with pytest.raises(UsageError, match="consent-gated"):
            Anonymizer(Policy.from_dict(data, environ=ENV), log_format("nginx-combined"), "same", "access")

    def test_an_unknown_stream_names_the_choices(self) -> None:
        with pytest.raises(UsageError, match="did you mean 'access'"):
            Anonymizer(policy(), log_format("nginx-combined"), "same", "acess")


class TestRun:
    def test_a_long_line_is_cut_scrubbed_and_counted_and_the_next_line_is_intact(
        self, tmp_path: Path
    ) -> None:
        src = tmp_path / "in.log"
        src.write_bytes(b"x 192.0.2.1 " * (MAX_LINE // 6) + b"\n" + NGINX.encode() + b"\n")
        dst = tmp_path / "out.log"
        anon = anonymizer()
        with src.open("rb") as fin, dst.open("wb") as fout:
            counts = run(anon, fin.fileno(), fout.fileno())
        lines = dst.read_bytes().split(b"\n")
        assert counts.too_long == 1
        assert counts.parsed == 1
        assert len(lines[0]) <= MAX_LINE
        assert b"192.0.2.1 " not in lines[0]
        assert lines[1].startswith(b"203.0.113.0 - - [10/Oct/2026")

    @settings(max_examples=40, deadline=None)
    @given(st.integers(0, 93))
    def test_a_line_cut_short_by_a_stop_signal_leaks_no_part_of_an_address(self, at: int) -> None:
        # A stop signal ends the input wherever the reader is: the line in progress may end
        # inside an address, which the free-text scrubber would not see as one.
        cut = NGINX.encode() + TAIL[:at]  # never the whole line: at most its last quote is missing
        anon = anonymizer()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        wake_r, wake_w = os.pipe()
        os.write(in_w, NGINX.encode() + b"\n" + cut)
        worker = threading.Thread(target=run, args=(anon, in_r, out_w), kwargs={"wake_fd": wake_r})
        worker.start()
        first = b""
        while not first.endswith(b"\n"):  # the whole line is out: the cut one was read too
            first += os.read(out_r, 1)
        os.write(wake_w, b"x")
        worker.join()
        os.close(out_w)
        rest = b"".join(iter(lambda: os.read(out_r, 1 << 16), b""))
        for fd in (in_r, in_w, out_r, wake_r, wake_w):
            os.close(fd)
        assert b"2001:db8:85a3:8d3" not in first + rest  # the policy keeps /48 at most
        assert b"198.51.100.4" not in rest
        assert anon.counts.lines == 2
        assert anon.counts.cut_at_stop == 1

    @settings(max_examples=40, deadline=None)
    @given(st.integers(0, 93))
    def test_a_last_line_without_its_newline_leaks_no_part_of_an_address(self, at: int) -> None:
        # A writer that died mid-line leaves a log whose last line may end inside an address.
        out = _through_pipe(anonymizer(), NGINX.encode() + b"\n" + NGINX.encode() + TAIL[:at])
        assert b"2001:db8:85a3:8d3" not in out  # the policy keeps /48 at most
        assert b"198.51.100.4" not in out
        assert out.count(b"\n") == 2

    @pytest.mark.parametrize("native", ["0", "1"])
    def test_a_last_line_without_its_newline_is_cut_at_its_last_space_unless_it_parses(
        self, native: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Both paths: two groups of an address are no address to the scrubber, so the last
        word goes; a whole line that parses is written as any other."""
        monkeypatch.setenv("PRIVLOG_NATIVE", native)
        anon = anonymizer()
        out = _through_pipe(anon, NGINX.encode() + b"\nupstream gone, client 198.51")
        first = _through_pipe(anonymizer(), NGINX.encode() + b"\n")
        assert out == first + b"upstream gone, client\n"
        assert (anon.counts.lines, anon.counts.unparsed, anon.counts.cut_at_end) == (2, 0, 1)
        assert "the last line, without its newline, cut at its last space" in anon.counts.summary()
        whole = anonymizer()
        assert _through_pipe(whole, NGINX.encode()) == first
        assert (whole.counts.parsed, whole.counts.cut_at_end) == (1, 0)

    def test_records_go_to_the_export_sinks(self, tmp_path: Path) -> None:
        src = tmp_path / "in.log"
        src.write_text(NGINX + "\n" + NGINX_MAIN + "\n")
        sink = ListSink()
        with src.open("rb") as fin, open(os.devnull, "wb") as fout:
            run(anonymizer(output="none"), fin.fileno(), fout.fileno(), sinks=[sink])
        assert [r.attributes["client.address"] for r in sink.records] == ["203.0.113.0", "203.0.113.0"]
        assert sink.closed


def _through_pipe(anon: Anonymizer, data: bytes) -> bytes:
    """What ``run`` writes for ``data`` read from a pipe whose writer then closed it."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.write(in_w, data)
    os.close(in_w)
    run(anon, in_r, out_w)
    os.close(out_w)
    out = b"".join(iter(lambda: os.read(out_r, 1 << 16), b""))
    os.close(in_r)
    os.close(out_r)
    return out


def _cli(*args: str, stdin: Any = None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from privlog._cli import main; sys.exit(main())",
            "anonymize",
            *args,
        ],
        stdin=stdin if stdin is not None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


class TestCommand:
    @pytest.fixture
    def policy_file(self, tmp_path: Path) -> Path:
        path = tmp_path / "policy.toml"
        path.write_text(
            'service = "t"\n[retention.a]\ndays = 7\npurpose = "ops"\nlegal_basis = "legitimate interest"\n'
            '[streams.access]\nretention = "a"\n[streams.access.fields]\nmethod = "keep"\npath = "template"\n'
            'status = "keep"\nclient_ip = "hash"\nuser_agent = "generalise"\nreferrer = "origin"\n'
        )
        return path

    def test_a_pipe_gets_each_line_as_it_arrives_and_sigterm_ends_cleanly(self, policy_file: Path) -> None:
        with _cli("--policy", str(policy_file), env=ENV) as proc:
            assert proc.stdin is not None
            assert proc.stdout is not None
            assert proc.stderr is not None
            proc.stdin.write(NGINX.encode() + b"\n")
            proc.stdin.flush()
            first = proc.stdout.readline()  # arrives while the input is still open
            assert b"GET /users/{id}/orders" in first
            assert b"203.0.113.77" not in first
            assert SECRET.encode() not in first
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            assert b"1 lines: 1 anonymised" in proc.stderr.read()

    def test_sighup_ends_cleanly_too(self, policy_file: Path) -> None:
        with _cli("--policy", str(policy_file), env=ENV) as proc:
            assert proc.stdin is not None
            assert proc.stdout is not None
            assert proc.stderr is not None
            proc.stdin.write(b"garbage 192.0.2.1\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            assert line.startswith(b"garbage ")
            assert b"192.0.2.1" not in line
            proc.send_signal(signal.SIGHUP)
            assert proc.wait(timeout=30) == 0
            assert b"1 did not parse" in proc.stderr.read()

    def test_a_file_is_rewritten_to_another(
        self,
        policy_file: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
        src = tmp_path / "access.log"
        src.write_text(NGINX + "\nnot a log line from 192.0.2.8\n")
        dst = tmp_path / "access.anon.log"
        assert main(["anonymize", "--policy", str(policy_file), str(src), "-o", str(dst)]) == 0
        text = dst.read_text()
        assert text.count("\n") == 2
        for planted in (*PLANTED, "192.0.2.8"):
            assert planted not in text
        assert "2 lines: 1 anonymised, 1 did not parse" in capsys.readouterr().err
        assert dst.stat().st_mode & 0o077 == 0

    def test_the_summary_names_the_python_path_and_no_fallbacks(
        self,
        policy_file: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Without the compiled path (off here, as without the extension) no line is handed
        back, so the summary says which path ran and nothing about fallbacks."""
        monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
        monkeypatch.setenv("PRIVLOG_NATIVE", "0")
        src = tmp_path / "access.log"
        src.write_text(NGINX + "\nnot a log line from 192.0.2.8\n")
        assert main(["anonymize", "--policy", str(policy_file), str(src), "-o", str(tmp_path / "out.log")]) == 0
        (summary,) = capsys.readouterr().err.splitlines()
        assert summary.startswith("privlog anonymize: 2 lines: 1 anonymised, 1 did not parse")
        assert summary.endswith("; Python path")
        assert "through the Python path" not in summary
        assert "compiled" not in summary

    def test_export_sends_the_records_to_the_policys_store(
        self, policy_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_LOGS_EXPORTER", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"):
            monkeypatch.delenv(name, raising=False)
        store = tmp_path / "store"
        policy_file.write_text(policy_file.read_text() + f'[export]\nsink = "jsonl"\ndirectory = "{store}"\n')
        src = tmp_path / "access.log"
        src.write_text(NGINX + "\n")
        args = ["anonymize", "--policy", str(policy_file), "--output", "none", "--export", str(src)]
        assert main(args) == 0
        (day_file,) = (store / "access").glob("*.jsonl")
        (record,) = [orjson.loads(line) for line in day_file.read_bytes().splitlines()]
        assert record["url.path"] == "/users/{id}/orders"
        assert record["privlog.retention.days"] == 7
        assert "203.0.113.77" not in day_file.read_text()

    def test_a_bad_format_exits_2_naming_the_option(
        self, policy_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PRIVLOG_SECRET", SECRET)
        assert main(["anonymize", "--policy", str(policy_file), "--format", "nginx"]) == 2
        assert "--format: unknown format 'nginx'" in capsys.readouterr().err
