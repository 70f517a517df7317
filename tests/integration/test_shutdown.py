"""Graceful shutdown loses nothing: real servers, a signal, and the records on disk.

Each case serves quick requests and has one slow request in flight when the signal arrives,
with ``flush_interval`` at a minute, so every record on disk went through the shutdown path.
What must hold: records written == responses served. The table in ``docs/shutdown.md`` is
these results: each case checks its row there (``PRIVLOG_SHUTDOWN_TABLE=FILE`` writes the rows
to FILE instead, to regenerate the table).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..support.otlp_fake import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "shutdown.md"
BIN = Path(sys.executable).parent
QUICK = 20


@dataclass(frozen=True)
class Case:
    server: str
    app: str
    signal: signal.Signals
    lifespan: str
    argv: tuple[str, ...]
    in_flight: bool = True  # a slow request is being served when the signal arrives

    @property
    def row(self) -> str:
        flight = "yes" if self.in_flight else "no"
        return f"| {self.server} | {self.app} | {self.signal.name} | {self.lifespan} | {flight} |"


def uvicorn(app: str, lifespan: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "uvicorn", "--no-access-log", "--lifespan", lifespan, app)


def gunicorn(app: str, worker: str = "sync") -> tuple[str, ...]:
    threads = ("--threads", "4") if worker == "gthread" else ()
    return (sys.executable, "-m", "gunicorn", "-w", "1", "-k", worker, *threads, "--graceful-timeout", "10", app)


STARLETTE = "tests.support.shutdown_apps:starlette_app"
WSGI = "tests.support.shutdown_apps:wsgi_app"
DJANGO_ASGI = "tests.support.shutdown_django:asgi"
DJANGO_WSGI = "tests.support.shutdown_django:wsgi"
UWSGI = (str(BIN / "uwsgi"), "--master", "--processes", "1", "--module", WSGI, "--pythonpath", str(ROOT))
# uWSGI 2.0 kills its workers at once on SIGTERM and SIGINT; its documented graceful stop:
UWSGI_GRACEFUL = (*UWSGI, "--hook-master-start", "unix_signal:15 gracefully_kill_them_all")
# Workers that skip Python's teardown (and so its atexit): only uwsgi.atexit runs.
UWSGI_NO_TEARDOWN = (*UWSGI_GRACEFUL, "--skip-atexit-teardown")

CASES = [
    Case("uvicorn", "Starlette", signal.SIGTERM, "on", uvicorn(STARLETTE, "on")),
    Case("uvicorn", "Starlette", signal.SIGTERM, "off", uvicorn(STARLETTE, "off")),
    Case("uvicorn", "Starlette", signal.SIGINT, "off", uvicorn(STARLETTE, "off")),
    Case("uvicorn", "Django ASGI", signal.SIGTERM, "off", uvicorn(DJANGO_ASGI, "off")),
    Case("gunicorn, uvicorn worker", "Starlette", signal.SIGTERM, "on", gunicorn(STARLETTE, "uvicorn_worker.UvicornWorker")),
    Case("gunicorn, sync worker", "WSGI", signal.SIGTERM, "-", gunicorn(WSGI)),
    Case("gunicorn, sync worker", "Django WSGI", signal.SIGTERM, "-", gunicorn(DJANGO_WSGI)),
    Case("gunicorn, gthread worker", "Django WSGI", signal.SIGTERM, "-", gunicorn(DJANGO_WSGI, "gthread")),
    Case("gunicorn, uvicorn worker", "Django ASGI", signal.SIGTERM, "auto", gunicorn(DJANGO_ASGI, "uvicorn_worker.UvicornWorker")),
    Case("uWSGI, graceful hook", "WSGI", signal.SIGTERM, "-", UWSGI_GRACEFUL),
    Case("uWSGI, graceful hook, --skip-atexit-teardown", "WSGI", signal.SIGTERM, "-", UWSGI_NO_TEARDOWN),
    Case("uWSGI, graceful hook", "Django WSGI", signal.SIGTERM, "-", (*UWSGI_GRACEFUL[:5], DJANGO_WSGI, *UWSGI_GRACEFUL[6:])),
    Case("waitress", "WSGI", signal.SIGTERM, "-", (sys.executable, "-m", "waitress", WSGI)),
    Case("waitress", "WSGI", signal.SIGINT, "-", (sys.executable, "-m", "waitress", WSGI)),
    Case("waitress", "Django WSGI", signal.SIGTERM, "-", (sys.executable, "-m", "waitress", DJANGO_WSGI)),
]


def listen_args(case: Case, port: int) -> tuple[str, ...]:
    if case.server.startswith("uvicorn"):
        return ("--host", "127.0.0.1", "--port", str(port))
    if case.server.startswith("gunicorn"):
        return ("-b", f"127.0.0.1:{port}")
    if case.server.startswith("uWSGI"):
        return ("--http-socket", f"127.0.0.1:{port}")
    return (f"--listen=127.0.0.1:{port}",)


def command(case: Case, port: int) -> list[str]:
    if case.server == "waitress":  # options before the app
        return [*case.argv[:-1], *listen_args(case, port), case.argv[-1]]
    return [*case.argv, *listen_args(case, port)]


def get(port: int, path: str, timeout: float = 5.0) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status == 200 and bool(resp.read())
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _sigint_default() -> None:
    """SIGINT as a terminal gives it: a shell script's background job (``cmd &``) inherits it
    ignored, and Python then installs no KeyboardInterrupt handler, so waitress would not stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def written(directory: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in directory.glob("*/*.jsonl"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.server}-{c.app}-{c.signal.name}-lifespan-{c.lifespan}")
def test_records_written_equal_responses_served(case: Case, tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "logs"
    env = {**os.environ, "PRIVLOG_TEST_DIR": str(store), "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"}
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        command(case, port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_sigint_default
    )
    try:
        served = 0
        deadline = time.monotonic() + 30
        while not get(port, "/hello", timeout=15.0):
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        served += 1
        served += sum(get(port, "/hello") for _ in range(QUICK))
        slow: list[bool] = []
        in_flight = threading.Thread(target=lambda: slow.append(get(port, "/slow")))
        if case.in_flight:
            in_flight.start()
            time.sleep(0.25)  # the slow request is being handled
        proc.send_signal(case.signal)
        if case.in_flight:
            in_flight.join(timeout=20)
        served += sum(slow)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a hang: faulthandler writes every thread's stack
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=10)
            log.flush()
            pytest.fail("the server did not stop:\n" + (tmp_path / "server.log").read_text()[-6000:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    records = written(store)
    assert records == served, (tmp_path / "server.log").read_text()[-3000:]
    row = f"{case.row} {served} | {records} |"
    out = os.environ.get("PRIVLOG_SHUTDOWN_TABLE")
    if out:
        with open(out, "a") as fh:
            fh.write(row + "\n")
    else:
        assert row in DOC.read_text(), f"docs/shutdown.md lacks the row {row!r}: regenerate it"
