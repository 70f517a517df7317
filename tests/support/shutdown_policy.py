"""The policy the shutdown tests' apps log with (``test_shutdown.py``), in a module of its own so
the Django site imports it without building the other apps (whose PrivacyLogs would install the
SIGTERM handler on the main thread, which the Django site must do by itself).

``PRIVLOG_TEST_DIR`` is the JSONL store. ``flush_interval`` is a minute, so a record reaches the
disk only through the export at shutdown. ``/slow`` answers after ``SLOW`` seconds.
"""

from __future__ import annotations

import os

from privlog import Policy

from .policies import policy_dict

SLOW = 0.6


def policy() -> Policy:
    data = policy_dict()
    data["export"] = {"sink": "jsonl", "directory": os.environ["PRIVLOG_TEST_DIR"], "flush_interval": 60}
    return Policy.from_dict(data, environ={})
