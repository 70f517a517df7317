"""``privlog audit --clickhouse URL | --chdb PATH``: the same checks over the ``otel_logs`` table.

Rows are read as the Collector's ClickHouse exporter wrote them (``Timestamp`` and the
``LogAttributes`` map, every value a string) and checked as JSONL records are: raw personal
data in values, unlisted attributes, rows past their expiry, rows of shredded keys. A row TTL
or ``privlog retention sweep --clickhouse`` deletes expired rows; an expired row found here means
neither ran. Rows counted from a subject's last visit are not judged by their own expiry.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

import orjson

from .._core.record import iso_utc
from .._core.steps import SUBJECT_ATTRIBUTE
from .._errors import ConfigurationError
from .._policy.model import Policy
from ..clickhouse import _ident
from .audit_checks import Checker, Layout, Plan, Report, day_of, plan_for
from .clickhouse_http import ClickHouseHTTP

_COLUMNS = "Timestamp, LogAttributes"


def select_rows(table: str = "otel_logs", database: str | None = None) -> str:
    """The query reading what an audit needs, in the order written."""
    target = f"{_ident(database)}.{_ident(table)}" if database else _ident(table)
    return f"SELECT {_COLUMNS} FROM {target} ORDER BY Timestamp FORMAT JSONEachRow"  # noqa: S608 - quoted


def http_lines(server: ClickHouseHTTP, query: str, timeout: float = 300.0) -> Iterator[bytes]:
    """The result of ``query`` on a ClickHouse server's HTTP interface, line by line, streaming."""
    with server.post(query, timeout) as response:
        yield from response


def chdb_lines(path: str, query: str) -> Iterator[bytes]:
    """The result of ``query`` in a chdb database folder (ClickHouse in-process)."""
    try:
        chdb_session: Any = importlib.import_module("chdb.session")
    except ImportError:
        raise ConfigurationError("--chdb", "needs the chdb package", "pip install chdb") from None
    sess = chdb_session.Session(path)
    try:
        text = str(sess.query(query.rsplit(" FORMAT ", 1)[0], "JSONEachRow"))
    finally:
        sess.close()
    for line in text.splitlines():
        yield line.encode()


def audit_rows(
    lines: Iterable[bytes],
    source: str,
    policy: Policy | None = None,
    now_ns: int | None = None,
    held_key_ids: frozenset[str] | None = None,
    on_row: Callable[[int], None] | None = None,
) -> Report:
    """Audit exporter rows (JSONEachRow lines) against ``policy``; a finding names the row."""
    started = time.perf_counter()
    report = Report(source)
    now_iso = iso_utc(time.time_ns() if now_ns is None else now_ns)
    streams = {s.name: s for s in policy.streams} if policy is not None else {}
    if policy is None:
        report.notes.append("no policy given: unlisted attributes and truncation were not checked")
    checker = Checker(report, now_iso, held_key_ids, None, (day_of(now_iso) - date(1970, 1, 1)).days)
    plans: dict[str, Plan] = {}
    layouts: dict[tuple[str, tuple[str, ...]], Layout] = {}
    for n, line in enumerate(lines, 1):
        if on_row is not None and not n & 0xFFFF:
            on_row(n)
        where = f"row {n}"
        try:
            row = orjson.loads(line)
            rec: dict[str, Any] = {"timestamp": row["Timestamp"], **row["LogAttributes"]}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            report.add("unreadable", "", "", where)
            continue
        report.records += 1
        stream = str(rec.get("privlog.stream", ""))
        plan = plans.get(stream)
        if plan is None:
            plan = plans[stream] = _stream_plan(stream, streams, policy, report)
        keys = tuple(rec)
        layout = layouts.get((stream, keys))
        if layout is None:
            layout = layouts[(stream, keys)] = Layout(rec, keys, plan)
        _check_row(rec, layout, plan, checker, stream, where)
    report.files = 1
    report.seconds = time.perf_counter() - started
    return report


def _stream_plan(stream: str, streams: dict[str, Any], policy: Policy | None, report: Report) -> Plan:
    report.streams.append(stream)
    if policy is None:
        return plan_for(None)
    if stream not in streams:
        report.add("unknown-stream", stream, "", "otel_logs")
        plan = plan_for(None)
        plan.listed = False
        return plan
    return plan_for(streams[stream])


def _check_row(
    rec: dict[str, Any], layout: Layout, plan: Plan, checker: Checker, stream: str, where: str
) -> None:
    report = checker.report
    for key in layout.unlisted:
        report.add("unlisted", stream, key, where)
    if layout.scan is not None:
        values = layout.scan(rec)
        if not checker.clean.issuperset(values):
            checker.values(layout, values, stream, where)
    # Rows counted from the last visit are deleted by the sweep, not by their own expiry.
    if (
        layout.expiry
        and SUBJECT_ATTRIBUTE not in rec
        and rec["privlog.retention.expires_at"] <= checker.now_iso
    ):
        report.add("expired", stream, "", where)
    if layout.address and plan.prefixes is not None and checker.address(rec["client.address"], plan.prefixes):
        report.add("raw-address", stream, "client.address", where)
    if layout.key_id and checker.held is not None and rec["privlog.key_id"] not in checker.held:
        report.add("shredded-key", stream, "privlog.key_id", where)
