"""Shared fixtures: a full policy, a capturing sink, and a PrivacyLog writing to it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

# `make test-nofcntl`: the platform has no fcntl (Windows), so privlog must import and lock
# without it. Blocked before privlog is first imported; modules holding it already keep it.
if os.environ.get("PRIVLOG_TEST_WITHOUT_FCNTL"):
    import contextlib

    # Test helpers that are POSIX-only themselves (gunicorn's logging classes) load it first.
    with contextlib.suppress(ImportError):
        import gunicorn.util  # noqa: F401
    sys.modules["fcntl"] = None  # type: ignore[assignment]

import pytest
from hypothesis import settings

from privlog import Policy, PrivacyLog

from .support.policies import ENV, FULL
from .support.sinks import ListSink

# Hypothesis' per-example deadline (200 ms) measures the machine as much as the code: on a shared
# 2-core runner it fails tests that are merely slow. Property tests check what, not how fast.
settings.register_profile("privlog", deadline=None)
settings.load_profile("privlog")


@pytest.fixture
def full_policy() -> Policy:
    return Policy.from_dict(FULL, environ=ENV)


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def privlog(sink: ListSink) -> Iterator[PrivacyLog]:
    """A PrivacyLog with the FULL policy writing to ``sink``; closed after the test."""
    pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink])
    yield pl
    pl.close()
