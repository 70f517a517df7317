"""Helpers for your own tests: assert what your policy logs, without mocks.

As ``structlog.testing.capture_logs`` captures log entries, :func:`capture_records` captures
the records privlog exports while a block runs, after its transforms, exactly as a sink gets
them::

    from privlog.testing import capture_records

    def test_the_access_log_keeps_no_user_id(client, app_privlog):
        with capture_records(app_privlog) as records:
            client.get("/users/4711")
        (record,) = records
        assert record["http.route"] == "/users/{user_id}"
        assert "user.id" not in record

:class:`RecordCapture` is the sink behind it, for a PrivacyLog built for a test
(``PrivacyLog(policy, sinks=[RecordCapture()])``). See docs/testing.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ._core.record import Output
from ._policy.model import Policy
from ._privacylog import PrivacyLog

__all__ = ["CapturedRecords", "RecordCapture", "capture_records"]


class CapturedRecords(list[dict[str, Any]]):
    """The captured records' attributes, in export order; each also knows its stream.

    ``privlog`` is the :class:`PrivacyLog` they come from (the one :func:`capture_records`
    built, when it was given a policy).
    """

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[Output] = []
        self.privlog: PrivacyLog | None = None

    def stream(self, name: str) -> list[dict[str, Any]]:
        """The records of one stream."""
        return [dict(o.attributes) for o in self.outputs if o.stream == name]


class RecordCapture:
    """A sink that keeps every record it is given (attributes as plain dicts)."""

    def __init__(self) -> None:
        self.records = CapturedRecords()

    def write(self, records: Sequence[Output]) -> None:
        for rec in records:
            self.records.outputs.append(rec)
            self.records.append(dict(rec.attributes))

    def flush(self) -> None:
        """Nothing buffered."""

    def close(self) -> None:
        """Nothing to release."""


def _privacylog_of(target: Any) -> PrivacyLog:
    if isinstance(target, PrivacyLog):
        return target
    if target is None:
        return _django_privlog()
    extensions = getattr(target, "extensions", None)  # a Flask app with PrivacyLogExtension
    if isinstance(extensions, Mapping) and isinstance(extensions.get("privlog"), PrivacyLog):
        privlog: PrivacyLog = extensions["privlog"]
        return privlog
    found = getattr(target, "privlog", None)  # a middleware or the Flask extension
    if isinstance(found, PrivacyLog):
        return found
    raise TypeError(
        "capture_records() needs a PrivacyLog, a middleware or extension holding one (.privlog), a Flask "
        f"app with PrivacyLogExtension, a Policy, or nothing in a Django project; got {type(target).__name__}"
    )


def _django_privlog() -> PrivacyLog:
    """The Django project's privlog (``settings.PRIVLOG``), for ``capture_records()`` alone."""
    try:
        from django.conf import settings

        configured = settings.configured
    except ImportError:
        configured = False
    if not configured:
        raise TypeError(
            "capture_records() needs a target outside a Django project: a PrivacyLog, a middleware or "
            "extension holding one, a Flask app or a Policy"
        )
    from .django.conf import get_privlog

    return get_privlog()


def _policy_of(target: Any) -> Policy | None:
    """The policy to build a capturing PrivacyLog from, if ``target`` is one."""
    if isinstance(target, Policy):
        return target
    if isinstance(target, Mapping):
        return Policy.from_dict(target)
    if isinstance(target, (str, os.PathLike)):
        return Policy.from_toml(os.fspath(target))
    return None


@contextmanager
def capture_records(target: Any = None) -> Iterator[CapturedRecords]:
    """Capture the records privlog exports while the block runs; all are there when it ends.

    ``target`` is whose records:

    - a :class:`PrivacyLog`, a middleware or the Flask extension holding one (``.privlog``), or
      a Flask app with :class:`~privlog.flask.PrivacyLogExtension`: the capture is added beside
      its own sinks, which still get everything; records queued before the block are exported
      first and not captured;
    - nothing, in a Django project: the project's privlog (``settings.PRIVLOG``), likewise;
    - a :class:`Policy`, a policy dict or a policy TOML path: a new PrivacyLog whose only sink is
      the capture (no files, no collector), as ``records.privlog``: hand it to your middleware
      (or ``override_settings(PRIVLOG=records.privlog)``); it is closed when the block ends.
    """
    policy = _policy_of(target)
    capture = RecordCapture()
    if policy is not None:
        built = PrivacyLog(policy, sinks=[capture])
        capture.records.privlog = built
        try:
            yield capture.records
        finally:
            built.close()
        return
    privlog = _privacylog_of(target)
    capture.records.privlog = privlog
    dispatcher = privlog.dispatcher
    privlog.flush()
    dispatcher.sinks = (*dispatcher.sinks, capture)
    try:
        yield capture.records
    finally:
        privlog.flush()
        dispatcher.sinks = tuple(s for s in dispatcher.sinks if s is not capture)
