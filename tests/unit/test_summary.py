"""A record's severity and short line: from the outcome, and only from what the record holds."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from privlog import Pipeline, Policy
from privlog._core.capture import Capture
from privlog.asgi import read_asgi_scope
from privlog.sinks._summary import ERROR, INFO, WARN, body, severity

from ..support.policies import ENV, FULL, policy_dict

#: The attributes the line and the severity read; every other attribute stays out of both.
USED = (
    "event.name",
    "http.request.method",
    "http.route",
    "url.path",
    "http.response.status_code",
    "http.server.request.duration",
    "privlog.incomplete",
    "privlog.websocket.close_code",
    "privlog.websocket.messages_in",
    "privlog.websocket.messages_out",
)

_values = st.one_of(st.none(), st.text(max_size=12), st.integers(-5, 1200), st.floats(0, 100), st.booleans())


def _capture(path: str, status: int, kind: str = "http", extra: dict[str, Any] | None = None) -> Capture:
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "root_path": "",
        "query_string": b"q=jane@example.com",
        "headers": [(b"user-agent", b"curl/8.0"), (b"cookie", b"session=s3cr3t")],
        "client": ("198.51.100.77", 5000),
    }
    return Capture.of(
        kind,
        reader=read_asgi_scope,
        source=scope,
        start_ns=1_764_000_000_000_000_000,
        duration_ns=12_300_000,
        status=status,
        user_id="alice@example.com",
        extra=extra,
    )


@given(st.fixed_dictionaries({}, optional={k: _values for k in USED}), st.dictionaries(st.text(), st.text()))
def test_nothing_but_the_outcome_attributes_reach_the_line(used: dict[str, Any], other: dict[str, str]) -> None:
    """Adding any other attribute (an identifier, an address) changes neither line nor severity."""
    extra = {k: v for k, v in other.items() if k not in USED}
    assert body({**used, **extra}) == body(used)
    assert severity({**used, **extra}) == severity(used)


@given(st.fixed_dictionaries({}, optional={k: _values for k in USED}))
def test_every_word_of_the_line_comes_from_an_attribute(attrs: dict[str, Any]) -> None:
    line = body(attrs)
    text = " ".join(str(v) for v in attrs.values())
    for word in line.split():
        word = word.removeprefix("in=").removeprefix("out=")
        if word.endswith(("ms", "s")) and "http.server.request.duration" in attrs and word[0].isdigit():
            continue  # the duration, in milliseconds or seconds
        assert word == "websocket" or word in text, (word, attrs)


def test_severity_from_the_outcome() -> None:
    assert severity({"event.name": "http.request", "http.response.status_code": 200}) == INFO
    assert severity({"event.name": "http.request", "http.response.status_code": 302}) == INFO
    assert severity({"event.name": "http.request", "http.response.status_code": 404}) == WARN
    assert severity({"event.name": "http.request", "http.response.status_code": 500}) == ERROR
    assert severity({"event.name": "http.request", "http.response.status_code": 200, "privlog.incomplete": True}) == ERROR
    assert severity({"event.name": "auth.login_failure"}) == WARN
    assert severity({"event.name": "auth.login_success"}) == INFO
    assert severity({"event.name": "websocket.session", "privlog.websocket.close_code": 1000}) == INFO
    assert severity({"event.name": "websocket.session", "privlog.websocket.close_code": 1011}) == ERROR
    assert severity({"event.name": "http.request"}) == INFO  # no status kept: nothing to judge by


@given(st.sampled_from(list(HTTPStatus)))
def test_an_int_enum_status_has_the_severity_of_its_number(status: HTTPStatus) -> None:
    # Starlette and FastAPI apps may send HTTPStatus members as the status; a bool is no status.
    number = int(status)
    assert severity({"event.name": "http.request", "http.response.status_code": status}) == severity(
        {"event.name": "http.request", "http.response.status_code": number}
    )
    assert severity({"event.name": "http.request", "http.response.status_code": True}) == INFO


def test_the_line_of_a_real_record_holds_no_personal_value() -> None:
    pipeline = Pipeline(Policy.from_dict(FULL, environ=ENV))
    records = pipeline.process(_capture("/users/4711", 503))
    assert records
    for rec in records:
        line = body(rec.attributes)
        for personal in ("4711", "198.51", "alice", "s3cr3t"):
            assert personal not in line
        assert severity(rec.attributes) == ERROR
    security = next(r for r in records if r.stream == "security")
    assert body(security.attributes) == f"POST {security.attributes['url.path']} 503 12ms"


def test_a_dropped_field_is_not_in_the_line() -> None:
    """A policy without ``path`` and ``method``: the line says only what the record kept."""
    pipeline = Pipeline(Policy.from_dict(policy_dict(timestamp="keep", status="keep", duration="keep"), environ=ENV))
    (rec,) = pipeline.process(_capture("/users/4711", 404))
    assert body(rec.attributes) == "404 12ms"
    assert severity(rec.attributes) == WARN


def test_failed_login_line_and_severity() -> None:
    pipeline = Pipeline(Policy.from_dict(FULL, environ=ENV))
    cap = _capture("/login", 200, kind="auth", extra={"event": "login_failure"})
    records = pipeline.process(cap)
    (rec,) = [r for r in records if r.stream == "security"]
    assert body(rec.attributes).startswith("auth.login_failure POST ")
    assert "alice" not in body(rec.attributes)
    assert severity(rec.attributes) == WARN
