"""A Flask app logged by privlog, served by a real uWSGI in ``test_uwsgi.py``.

Configured by the environment: ``PRIVLOG_TEST_DIR`` (where the JSONL store writes) and
``PRIVLOG_SECRET``. ``/report`` sends a file by path, as most apps do; ``/probe`` sends a file
whose iteration yields a marker instead of its content, so its body tells whether uWSGI read
the file descriptor with sendfile() or iterated what it was given.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

from flask import Flask, Response, send_file

from privlog import Policy
from privlog.flask import PrivacyLogExtension

from .policies import policy_dict

REPORT = Path(os.environ["PRIVLOG_TEST_DIR"]) / "report.bin"
MARKER = b"ITERATED, NOT SENT WITH SENDFILE"


class Probe(io.FileIO):
    """A file whose content only sendfile() sees: iterating it gives :data:`MARKER`."""

    def __iter__(self) -> Iterator[bytes]:
        return iter([MARKER])

    def __next__(self) -> bytes:
        raise StopIteration


policy = Policy.from_dict(
    {
        **policy_dict(
            method="keep",
            path="template",
            status="keep",
            response_bytes="keep",
            client_ip="truncate",
            user_id="pseudonymise",
        ),
        "secret": {"env": "PRIVLOG_SECRET"},
        "proxies": {"trusted": ["127.0.0.1"]},
        "export": {"sink": "jsonl", "directory": os.environ["PRIVLOG_TEST_DIR"], "flush_interval": 0.05},
    }
)

app = Flask(__name__)
PrivacyLogExtension(app, policy=policy, user_id=lambda: "alice@example.com")


@app.get("/users/<int:user_id>")
def user(user_id: int) -> dict[str, int]:
    return {"id": user_id, "pid": os.getpid()}


@app.get("/report")
def report() -> Response:
    return send_file(REPORT, mimetype="application/octet-stream")


@app.get("/probe")
def probe() -> Response:
    return send_file(Probe(REPORT), mimetype="application/octet-stream", download_name="probe.bin")
