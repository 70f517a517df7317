"""Shared fixtures: a full policy, a capturing sink, and a PrivacyLog writing to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from privlog import Policy, PrivacyLog

from .support.policies import ENV, FULL
from .support.sinks import ListSink


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
