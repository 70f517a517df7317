"""Runs a real server as a subprocess, sends requests full of personal data, reads its output.

Each test module starts one server with :func:`running` and sends :func:`send_requests`; the
server's whole stdout and stderr must then contain none of :data:`PERSONAL` (in any of the
forms a server could print it) and must show that the server did log the requests.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .otlp_fake import free_port

ROOT = Path(__file__).parent.parent.parent
BIN = Path(sys.executable).parent
EMAIL = "jane.doe.leak@example.org"
USER_NUMBER = "4917055512345"
CLIENT_V4 = "203.0.113.77"
CLIENT_V6 = "2001:db8:1234:5678::77"
TOKEN = "aB3dE5gH7jK9mN1pQ2rS4t"
QUERY_TOKEN = "Zq8Wv1Xy3Ab6Cd9Ef2"
SESSION = "s3ss10nJ4n3D03x"
PASSWORD = "hunter2-pw"
AGENT = "JaneDoeLeakAgent/4917"
BASIC = base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()

#: What must never appear in a server's output, in every form a server could print it.
PERSONAL: tuple[str, ...] = (
    "jane.doe.leak",  # the e-mail, the Basic-auth user, the referrer's path
    "jane.doe.leak%40example.org",
    USER_NUMBER,
    CLIENT_V4,
    "5678::77",  # the IPv6 address's host part, however it is written
    "2001:db8:1234:5678",
    TOKEN,
    QUERY_TOKEN,
    SESSION,
    PASSWORD,
    BASIC,
    "JaneDoeLeakAgent",
    "/profile/",
)


@dataclass
class Server:
    url: str
    output: Path
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as err:
        err.read()
        return err.code


def send_requests(url: str, *, slash: str = "") -> list[int]:
    """A 200, a 404 and a 500, each with personal data in address, path, query and headers."""
    headers = {
        "X-Forwarded-For": CLIENT_V4,
        "User-Agent": AGENT,
        "Referer": f"https://news.example.com/profile/{EMAIL}",
        "Authorization": f"Basic {BASIC}",
        "Cookie": f"session={SESSION}",
    }
    query = f"?email={EMAIL.replace('@', '%40')}&token={QUERY_TOKEN}&page=2"
    return [
        get(f"{url}/users/{USER_NUMBER}{slash}{query}", headers),
        get(f"{url}/nope/{EMAIL}/{TOKEN}{slash}{query}", {**headers, "X-Forwarded-For": CLIENT_V6}),
        get(f"{url}/boom/{EMAIL}{slash}{query}", headers),
    ]


@contextmanager
def running(
    command: Sequence[str], directory: Path, *, ready: str = "/ready", port: int | None = None
) -> Iterator[Server]:
    """Start ``command`` (``{port}`` in it is replaced) with stdout and stderr into one file;
    stop it with SIGINT (then SIGTERM, SIGKILL) when the block ends, so it flushes its logs."""
    port = port or free_port()
    server = Server(f"http://127.0.0.1:{port}", directory / "server-output.txt")
    argv = [part.replace("{port}", str(port)) for part in command]
    env = {
        **os.environ,
        "PRIVLOG_TEST_DIR": str(directory / "records"),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    with server.output.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 40
            while get_or_none(server.url + ready) != 200:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{argv[0]} did not start:\n{server.text()}")
                time.sleep(0.1)
            yield server
        finally:
            stop(proc)


def get_or_none(url: str) -> int | None:
    try:
        return get(url, {})
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)  # the server's own process group: its workers too
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def leaks(output: str) -> list[str]:
    """The personal values found in ``output`` (case-insensitively)."""
    lowered = output.lower()
    return [value for value in PERSONAL if value.lower() in lowered]


def assert_clean(output: str) -> None:
    found = leaks(output)
    assert not found, f"personal data in the server's output: {found}\n{output}"


def serve_and_log(
    directory: Path, command: Sequence[str], *, slash: str = "", extra: Sequence[dict[str, str]] = ()
) -> str:
    """Start the server, send the requests (and ``extra`` header sets to ``/users/1``), stop
    it, and return everything it wrote."""
    with running(command, directory) as server:
        statuses = send_requests(server.url, slash=slash)
        for headers in extra:
            get(f"{server.url}/users/1{slash}", headers)
    assert statuses == [200, 404, 500]
    return server.text()
