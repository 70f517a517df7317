"""ClickHouse SQL for privlog records stored by the OpenTelemetry Collector's ClickHouse exporter.

The table is the exporter's own log layout (contrib ``exporter/clickhouseexporter``, logs
table after the 2026 schema upgrade: ``EventName``, ``__otel_materialized_*`` columns, ordering
by five-minute bucket), so a stock exporter with ``create_schema: false`` writes into it
unchanged. privlog adds only ``MATERIALIZED`` columns, which no INSERT names, and a per-row TTL
read from each record's ``privlog.retention.days`` tag: the retention the policy promised
travels with the record and ClickHouse deletes the row when it runs out.

Nothing here talks to a server; these functions return SQL text for ``privlog schema
clickhouse``, for operators, and for data-subject requests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["last_visit_sweep", "logs_table_ddl", "subject_delete", "subject_query"]

DEFAULT_DAYS = 30
"""Retention of rows without a usable ``privlog.retention.days`` tag, so nothing lives forever."""

_MAX_DAYS = 65_535  # RetentionDays is a UInt16
_ENGINE = re.compile(r"[A-Za-z]\w*(\([^;]*\))?")

_MATERIALIZED_RESOURCE = (
    "k8s.cluster.name",
    "k8s.container.name",
    "k8s.deployment.name",
    "k8s.namespace.name",
    "k8s.node.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "deployment.environment.name",
)
"""The resource attributes the exporter's schema materializes as ``__otel_materialized_*``."""

_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _quote(value: str) -> str:
    """A ClickHouse string literal. Values come from privlog, but a pseudonym is still data."""
    out = []
    for ch in value:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def _ident(name: str) -> str:
    """A backquoted identifier, so table and database names cannot break out of the statement."""
    if not name:
        raise ValueError("identifier must not be empty")
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _table(table: str, database: str | None) -> str:
    return f"{_ident(database)}.{_ident(table)}" if database else _ident(table)


def _on_cluster(cluster: str | None) -> str:
    return f" ON CLUSTER {_ident(cluster)}" if cluster else ""


def _tag(key: str) -> str:
    return f"LogAttributes[{_quote(key)}]"


def logs_table_ddl(
    table: str = "otel_logs",
    database: str | None = None,
    cluster: str | None = None,
    *,
    default_days: int = DEFAULT_DAYS,
    engine: str = "MergeTree",
) -> str:
    """``CREATE TABLE`` for the exporter's logs layout with a TTL taken from each row's retention tag.

    Rows without a valid ``privlog.retention.days`` (another application's logs, a mangled
    value) get ``default_days``. ``ttl_only_drop_parts`` is 0, unlike the exporter's own schema:
    one day's partition holds rows of every retention class, so whole-part drops would keep a
    7-day row until its 90-day neighbours expire. Row-level TTL deletes it on the next TTL
    merge instead. On a cluster pass ``engine="ReplicatedMergeTree"``.
    """
    if isinstance(default_days, bool) or not isinstance(default_days, int):
        raise TypeError("default_days must be an int")
    if not 1 <= default_days <= _MAX_DAYS:
        raise ValueError(f"default_days must be between 1 and {_MAX_DAYS}, got {default_days}")
    if not _ENGINE.fullmatch(engine):
        raise ValueError(f"engine must look like MergeTree or ReplicatedMergeTree(...), got {engine!r}")
    days = f"toUInt16OrZero({_tag('privlog.retention.days')})"
    materialized = ",\n".join(
        f"    {_ident('__otel_materialized_' + key)} LowCardinality(String) "
        f"MATERIALIZED ResourceAttributes[{_quote(key)}] CODEC(ZSTD(1))"
        for key in _MATERIALIZED_RESOURCE
    )
    return f"""CREATE TABLE IF NOT EXISTS {_table(table, database)}{_on_cluster(cluster)}
(
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),
{materialized},
    -- privlog: the retention each record carries, as columns the TTL and queries can use
    PrivlogStream LowCardinality(String) MATERIALIZED {_tag("privlog.stream")} CODEC(ZSTD(1)),
    RetentionClass LowCardinality(String) MATERIALIZED {_tag("privlog.retention.class")} CODEC(ZSTD(1)),
    RetentionDays UInt16 MATERIALIZED if({days} > 0, {days}, {default_days}),
    RetentionFrom LowCardinality(String) MATERIALIZED {_tag("privlog.retention.from")} CODEC(ZSTD(1)),
    RetentionSubject String MATERIALIZED {_tag("privlog.retention.subject_id")} CODEC(ZSTD(1)),
    -- older exporter schemas and the Grafana plugin query TimestampTime; an ALIAS costs no storage
    TimestampTime DateTime ALIAS toDateTime(Timestamp),

    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
)
ENGINE = {engine}
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)
TTL toDateTime(Timestamp) + toIntervalDay(RetentionDays) DELETE WHERE NOT ({_LAST_VISIT})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 0
"""


_LAST_VISIT = "RetentionFrom = 'last_visit' AND RetentionSubject != ''"
"""Rows kept until their subject's last visit is old enough: the sweep deletes them, not the TTL."""


def last_visit_sweep(
    today: str,
    table: str = "otel_logs",
    database: str | None = None,
    *,
    held_subjects: Sequence[str] = (),
    held: Sequence[tuple[str, str]] = (),
    lightweight: bool = False,
) -> str:
    """The statement deleting the rows of subjects whose last visit is too old on ``today``.

    A row TTL cannot look at other rows, so a retention counted from each subject's last visit
    is applied by this statement, run daily (``privlog retention sweep --clickhouse URL``): it
    finds, per stream and subject, the last row, and deletes every row of the subjects whose
    last row is ``RetentionDays`` or more days before ``today`` (a ``YYYY-MM-DD`` date), except
    rows kept by a legal hold (their subject pseudonyms, or any held (attribute, value)).
    """
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", today):
        raise ValueError("today must be a YYYY-MM-DD date")
    target = _table(table, database)
    expired = (
        f"SELECT PrivlogStream, RetentionSubject FROM {target} WHERE {_LAST_VISIT} "  # noqa: S608 - quoted
        f"GROUP BY PrivlogStream, RetentionSubject "
        f"HAVING toDate(max(Timestamp)) + any(RetentionDays) <= toDate({_quote(today)})"
    )
    where = f"{_LAST_VISIT} AND (PrivlogStream, RetentionSubject) IN ({expired})"
    if held_subjects:
        where += f" AND RetentionSubject NOT IN ({', '.join(_quote(s) for s in held_subjects)})"
    for attribute, value in held:
        where += f" AND {_tag(attribute)} != {_quote(value)}"
    if lightweight:
        return f"DELETE FROM {target} WHERE {where}"  # noqa: S608 - names and values are quoted
    return f"ALTER TABLE {target} DELETE WHERE {where}"


def _subject_where(pseudonyms: Sequence[str], attribute: str) -> str:
    if isinstance(pseudonyms, str):
        raise TypeError("pseudonyms must be a sequence of strings, not one string")
    values = list(dict.fromkeys(pseudonyms))
    if not values:
        raise ValueError("no pseudonyms given")
    if not all(isinstance(v, str) for v in values):
        raise TypeError("pseudonyms must be strings")
    return f"{_tag(attribute)} IN ({', '.join(_quote(v) for v in values)})"


def subject_query(
    pseudonyms: Sequence[str],
    attribute: str = "user.id",
    table: str = "otel_logs",
    database: str | None = None,
) -> str:
    """``SELECT`` of every row whose ``attribute`` is one of a data subject's pseudonyms (Art. 15)."""
    where = _subject_where(pseudonyms, attribute)
    return f"SELECT * FROM {_table(table, database)} WHERE {where} ORDER BY Timestamp"  # noqa: S608 - quoted


def subject_delete(
    pseudonyms: Sequence[str],
    attribute: str = "user.id",
    table: str = "otel_logs",
    database: str | None = None,
    cluster: str | None = None,
    *,
    lightweight: bool = False,
) -> str:
    """Statement erasing a data subject's rows (Art. 17).

    The default is a mutation (``ALTER TABLE ... DELETE``), which rewrites the affected parts
    so the values are gone from disk when it finishes. ``lightweight=True`` gives ``DELETE
    FROM``: rows vanish from queries at once but stay on disk, masked, until parts merge.
    """
    where = _subject_where(pseudonyms, attribute)
    target = _table(table, database) + _on_cluster(cluster)
    if lightweight:
        return f"DELETE FROM {target} WHERE {where}"  # noqa: S608 - names and values are quoted
    return f"ALTER TABLE {target} DELETE WHERE {where}"
