"""A Flask app that logs an auth event, served by one uWSGI worker in ``test_uwsgi.py``.

The issue it reproduces: uWSGI empties and reuses a worker's environ for its next request, so
an auth event handed over with the live ``request.environ`` was read, up to ``flush_interval``
later, with the next person's path, address and user agent. ``/other`` is slow, so the next
request is still being served when the worker reads the event.
"""

from __future__ import annotations

import os
import time

from flask import Flask

from privlog import Policy
from privlog.flask import PrivacyLogExtension

from .policies import policy_dict

data = policy_dict(path="template", client_ip="truncate", user_agent="keep")
data["streams"]["access"]["events"] = ["http", "auth"]
data["proxies"] = {"trusted": ["127.0.0.1"]}
data["export"] = {"sink": "jsonl", "directory": os.environ["PRIVLOG_TEST_DIR"], "flush_interval": 1}
policy = Policy.from_dict(data)

app = Flask(__name__)
privlog_ext = PrivacyLogExtension(app, policy=policy)


@app.get("/ready")
def ready() -> str:
    return "ok"


@app.post("/login")
def login() -> tuple[str, int]:
    privlog_ext.auth_event("login_failure")
    return "no", 401


@app.get("/other/<int:n>")
def other(n: int) -> str:
    time.sleep(1.5)
    return "done"
