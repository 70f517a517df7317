"""The free-text scrubber for log messages: what it replaces, what it leaves, and that it never lets a planted value through."""

from __future__ import annotations

import ipaddress
import re
import secrets
import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from privlog._transforms.address import make_truncate
from privlog._transforms.freetext import make_text_scrubber, scrub_traceback

scrub = make_text_scrubber(make_truncate(24, 48))
placeholders = make_text_scrubber()
every_address = make_text_scrubber(keep_host=False)  # as `privlog anonymize` scrubs


class TestWhatIsReplaced:
    def test_emails_plain_and_percent_encoded(self) -> None:
        assert scrub("login jane.doe+x@example.co.uk ok") == "login {email} ok"
        assert scrub("GET /a?u=jane.doe%40example.org") == "GET /a?u={email}"

    def test_addresses_get_the_address_action(self) -> None:
        assert (
            scrub("from 203.0.113.77, then 2001:db8:1234:5678::77")
            == "from 203.0.113.0, then 2001:db8:1234::"
        )
        assert (
            scrub("peer [2001:db8::1]:443 and ::ffff:198.51.100.9.")
            == "peer [2001:db8::]:443 and 198.51.100.0."
        )

    def test_without_an_action_an_address_is_a_placeholder(self) -> None:
        assert placeholders("client 198.51.100.7:5555") == "client {ip}:5555"

    def test_an_ipv6_address_with_a_port_as_uvicorn_writes_it(self) -> None:
        assert placeholders("2001:db8::7:51234 - GET") == "{ip}:51234 - GET"

    def test_addresses_glued_by_colons_are_all_found(self) -> None:
        assert placeholders("x 7:::5: y") == "x {ip} y"  # "7::" or "::5": the run goes whole
        assert "2001:db8::7:1:2:3:4" not in placeholders("=0:2001:db8::7:1:2:3:4")  # hex glued before
        assert placeholders(";:2001:2a:66f6:2800::;") == ";:{ip};"
        assert placeholders(":2001:db8::1::2001:db8::2:") == ":{ip}::{ip}:"

    def test_credentials_after_a_scheme_or_a_credential_name(self) -> None:
        assert scrub("Authorization: Bearer sk_live_Jq8Wv1Xy3Ab6") == "Authorization: Bearer {token}"
        assert scrub("sent Basic dXNlcjpwYXNz") == "sent Basic {token}"
        assert scrub("password=hunter2&page=2") == "password={token}&page=2"
        assert (
            scrub('{"api_key": "abc", "session_id": 12}') == '{"api_key": "{token}", "session_id": {token}}'
        )

    def test_the_start_of_an_address_cut_short(self) -> None:
        # a line whose writer died, or cut at a buffer's end, may end inside an address
        assert scrub("from 203.0.11") == "from {ip}"
        assert scrub("peer 203.0.113.") == "peer {ip}."
        assert scrub("peer 2001:db8:85a3:8d3:1319:8a2e:37") == "peer {ip}"
        assert scrub("[2001:db8:85a3:8d3 cut") == "[{ip} cut"
        assert placeholders("1.2.3.456 and 198.51.100.2555") == "{ip}.456 and {ip}.2555"

    def test_a_version_number_of_three_parts_is_taken_for_an_address(self) -> None:
        # the safe mistake: "1.2.3" could be the start of 1.2.3.4
        assert scrub("curl/8.5.0 and Django 5.1.3") == "curl/{ip} and Django {ip}"

    def test_uuids_and_generated_tokens(self) -> None:
        assert scrub("req 123e4567-e89b-12d3-a456-426614174000") == "req {uuid}"
        assert scrub("file aB3dE5gH7jK9mN1pQ2rS4t here") == "file {token} here"
        assert scrub("x QwErTyUiOpAsDfGhJk") == "x {token}"


class TestWhatIsLeft:
    def test_the_hosts_own_addresses_read_as_they_are(self) -> None:
        for text in (
            "Uvicorn running on http://127.0.0.1:8000",
            "Listening at: http://0.0.0.0:8000",
            "bound to [::1]:80",
        ):
            assert scrub(text) == text

    def test_ordinary_prose_names_and_times(self) -> None:
        for text in (
            "ZeroDivisionError: division by zero",
            "django.core.exceptions.ImproperlyConfigured",
            "getUserProfileById returned at 12:34:56 with status 200",
            "[29/Nov/2026:16:05:05 +0000] took 0:01:30.25 on 29.11.2026",
            "version 1.2 of 3 parts",
            "basic configuration loaded",
            "Started server process [4321]",
        ):
            assert scrub(text) == text

    def test_a_traceback_keeps_its_file_lines(self) -> None:
        tb = 'Traceback:\n  File "/srv/app/test_e2e_uvicorn.py", line 3, in f\n    g()\nValueError: jane@example.org'
        assert scrub_traceback(tb, scrub).splitlines() == [
            "Traceback:",
            '  File "/srv/app/test_e2e_uvicorn.py", line 3, in f',
            "    g()",
            "ValueError: {email}",
        ]


words = st.text(alphabet=string.ascii_letters + " .,:;-()[]'\"=/\n", max_size=40)
emails = st.from_regex(r"[a-z][a-z0-9._+-]{2,20}@[a-z][a-z0-9-]{1,15}\.(org|com|de|co\.uk)", fullmatch=True)
public_v4 = st.ip_addresses(v=4).filter(lambda a: a.is_global)
public_v6 = st.ip_addresses(v=6).filter(lambda a: a.is_global and a.ipv4_mapped is None)
CLOCK = re.compile(r"(\d{4}:)?\d{1,2}:[0-5]\d(:[0-5]\d)?")  # what the scrubber leaves as a time


class TestNothingPlantedGetsThrough:
    @settings(max_examples=300)
    @given(before=words, email=emails, after=words)
    def test_an_email_anywhere(self, before: str, email: str, after: str) -> None:
        assert email not in scrub(f"{before} {email} {after}")

    @settings(max_examples=300)
    @given(before=words, address=st.one_of(public_v4, public_v6), after=words)
    def test_an_address_anywhere(
        self, before: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address, after: str
    ) -> None:
        text = str(address)
        out = placeholders(f"{before} {text} {after}")
        assert text not in out  # an address after "token" goes as the token, else as {ip}
        assert "{ip}" in out or "{token}" in out

    @settings(max_examples=300)
    @given(before=words, size=st.integers(16, 64), after=words)
    def test_a_random_url_safe_token_with_a_digit(self, before: str, size: int, after: str) -> None:
        token = secrets.token_urlsafe(size)[:size]
        if not any(c.isdigit() for c in token):
            token = token[:-1] + "7"
        assert token not in scrub(f"{before} {token} {after}")

    @settings(max_examples=500)
    @given(
        before=st.text(alphabet=string.ascii_letters + string.digits + " .,:;-[]=/", max_size=20),
        address=st.one_of(public_v4, public_v6),
        at=st.integers(0, 40),
        after=words,
    )
    def test_the_start_of_an_address_cut_anywhere(
        self, before: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address, at: int, after: str
    ) -> None:
        """Any cut of an address that keeps three of its groups (a.b.c, or a:b:c), in any text,
        even glued to digits before it; after it, no digit (``203.0.1199`` is no address)."""
        text = str(address)
        sep = "." if address.version == 4 else ":"
        shortest = [i for i, c in enumerate(text) if c == sep][1] + 2  # a character past the 2nd
        cut = text[: min(len(text), shortest + at)]
        assume(not CLOCK.fullmatch(cut))  # "2002:10:20" reads as a clock time, and stays
        # (without keep_host: "::1", the start of "::100", would be the host's own and stay)
        assert cut not in every_address(f"{before}{cut}{after}")

    @given(st.text(max_size=300))
    def test_any_text_is_scrubbed_without_error_and_twice_is_once(self, text: str) -> None:
        once = placeholders(text)
        assert placeholders(once) == once
