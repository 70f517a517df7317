"""ClickHouse: the exporter-compatible table deletes each row when its retention class runs out.

Runs against chdb, ClickHouse's engine in-process, so the DDL, the TTL and the erasure
statements are executed by a real ClickHouse rather than compared as strings.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from privlog import Policy, PrivacyLog, PrivacyLogMiddleware
from privlog.clickhouse import _quote, last_visit_sweep, logs_table_ddl, subject_delete, subject_query

from ..support.policies import ENV, FULL
from ..support.sinks import ListSink

chdb_session = pytest.importorskip("chdb.session", reason="chdb (in-process ClickHouse) is not installed")

DAY_NS = 86_400 * 1_000_000_000
CLASSES = {"short": 7, "medium": 30, "long": 90}
AGES = (3, 10, 40, 100)

# The columns the exporter's INSERT names; privlog's table must accept every one of them.
EXPORTER_COLUMNS = {
    "Timestamp": "DateTime64(9)",
    "TraceId": "String",
    "SpanId": "String",
    "TraceFlags": "UInt8",
    "SeverityText": "LowCardinality(String)",
    "SeverityNumber": "UInt8",
    "ServiceName": "LowCardinality(String)",
    "Body": "String",
    "ResourceSchemaUrl": "LowCardinality(String)",
    "ResourceAttributes": "Map(LowCardinality(String), String)",
    "ScopeSchemaUrl": "LowCardinality(String)",
    "ScopeName": "String",
    "ScopeVersion": "LowCardinality(String)",
    "ScopeAttributes": "Map(LowCardinality(String), String)",
    "LogAttributes": "Map(LowCardinality(String), String)",
    "EventName": "String",
}

_names = (f"db{n}" for n in itertools.count())


class ClickHouse:
    """One chdb session; each test gets a database of its own in it."""

    def __init__(self, path: Path) -> None:
        self.session = chdb_session.Session(str(path))
        self.session.query("SET mutations_sync = 2")  # erasure statements return when done

    def sql(self, query: str) -> str:
        return str(self.session.query(query, "TSVRaw")).strip()

    def rows(self, query: str) -> list[dict[str, Any]]:
        text = str(self.session.query(query, "JSONEachRow")).strip()
        return [json.loads(line) for line in text.splitlines()]

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert the way the exporter does: the columns of its INSERT, attributes as strings."""
        body = "\n".join(json.dumps(r) for r in rows)
        self.session.query(f"INSERT INTO {table} FORMAT JSONEachRow\n{body}")


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouse]:
    ch = ClickHouse(tmp_path_factory.mktemp("chdb"))
    yield ch
    ch.session.close()


@pytest.fixture
def db(clickhouse: ClickHouse) -> str:
    name = next(_names)
    clickhouse.sql(f"CREATE DATABASE {name}")
    return name


def row(ts_ns: int, attributes: Mapping[str, Any], service: str = "kirim-web") -> dict[str, Any]:
    """A row as the exporter writes it: OTel attribute values become strings (AsString)."""
    return {
        "Timestamp": f"{ts_ns // 1_000_000_000}.{ts_ns % 1_000_000_000:09d}",
        "ServiceName": service,
        "Body": str(attributes.get("event.name", "")),
        "EventName": str(attributes.get("event.name", "")),  # privlog sets the record's event_name
        "SeverityText": "INFO",
        "SeverityNumber": 9,
        "ResourceAttributes": {"service.name": service},
        "ScopeName": "privlog",
        "LogAttributes": {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in attributes.items()
        },
    }


def tagged(cls: str, days: int, **extra: str) -> dict[str, Any]:
    return {
        "event.name": "http.request",
        "privlog.stream": f"{cls}-stream",
        "privlog.retention.class": cls,
        "privlog.retention.days": days,
        "privlog.purpose": "operations",
        "privlog.legal_basis": "legitimate interest",
        **extra,
    }


def ids(ch: ClickHouse, table: str) -> set[str]:
    return {r["id"] for r in ch.rows(f"SELECT LogAttributes['id'] AS id FROM {table}")}


def expire(ch: ClickHouse, table: str) -> None:
    """What the background TTL merges do eventually, forced now."""
    ch.sql(f"SYSTEM START TTL MERGES {table}")
    ch.sql(f"OPTIMIZE TABLE {table} FINAL")


class TestSchema:
    def test_accepts_everything_the_exporter_inserts(self, clickhouse: ClickHouse, db: str) -> None:
        clickhouse.sql(logs_table_ddl(database=db))
        described = {
            r["name"]: r
            for r in clickhouse.rows(f"DESCRIBE TABLE {db}.otel_logs SETTINGS describe_compact_output=0")
        }
        for name, type_ in EXPORTER_COLUMNS.items():
            assert described[name]["type"] == type_
            assert described[name]["default_type"] == ""  # a plain column, written by the INSERT
        for name in ("PrivlogStream", "RetentionClass", "RetentionDays"):
            assert described[name]["default_type"] == "MATERIALIZED"  # never named by an INSERT
        assert described["TimestampTime"]["default_type"] == "ALIAS"

    def test_per_row_ttl_and_no_whole_part_drops(self, clickhouse: ClickHouse, db: str) -> None:
        clickhouse.sql(logs_table_ddl(database=db))
        create = clickhouse.sql(f"SHOW CREATE TABLE {db}.otel_logs")
        assert "TTL toDateTime(Timestamp) + toIntervalDay(RetentionDays)" in create
        assert "ttl_only_drop_parts = 0" in create
        assert "ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)" in create
        assert "PARTITION BY toDate(Timestamp)" in create

    def test_create_is_idempotent_and_names_are_quoted(self, clickhouse: ClickHouse, db: str) -> None:
        ddl = logs_table_ddl(table="privlog logs`x", database=db)
        clickhouse.sql(ddl)
        clickhouse.sql(ddl)  # IF NOT EXISTS: safe to run on every deploy
        assert clickhouse.sql(f"SELECT name FROM system.tables WHERE database = '{db}'") == "privlog logs`x"

    def test_cluster_and_engine(self) -> None:
        ddl = logs_table_ddl(database="otel", cluster="logs", engine="ReplicatedMergeTree")
        assert ddl.startswith("CREATE TABLE IF NOT EXISTS `otel`.`otel_logs` ON CLUSTER `logs`\n")
        assert "ENGINE = ReplicatedMergeTree\n" in ddl

    @pytest.mark.parametrize("days", [0, -1, 65_536])
    def test_default_days_must_fit(self, days: int) -> None:
        with pytest.raises(ValueError, match="default_days"):
            logs_table_ddl(default_days=days)

    def test_engine_cannot_smuggle_sql(self) -> None:
        with pytest.raises(ValueError, match="engine"):
            logs_table_ddl(engine="MergeTree; DROP TABLE x")


class TestRetention:
    def test_each_row_is_deleted_when_its_class_runs_out(self, clickhouse: ClickHouse, db: str) -> None:
        table = f"{db}.otel_logs"
        clickhouse.sql(logs_table_ddl(database=db, default_days=30))
        clickhouse.sql(f"SYSTEM STOP TTL MERGES {table}")  # nothing expires before we look
        now = time.time_ns()
        rows = [
            row(now - age * DAY_NS, tagged(cls, days, id=f"{cls}-{age}"))
            for cls, days in CLASSES.items()
            for age in AGES
        ]
        rows += [
            row(now - 10 * DAY_NS, {"id": "untagged-10"}),
            row(now - 40 * DAY_NS, {"id": "untagged-40"}),
            row(now - 40 * DAY_NS, {"id": "garbage-40", "privlog.retention.days": "forever"}),
            row(now - 40 * DAY_NS, {"id": "overflow-40", "privlog.retention.days": "70000"}),
        ]
        clickhouse.insert(table, rows)
        assert len(ids(clickhouse, table)) == len(rows)

        expire(clickhouse, table)

        assert ids(clickhouse, table) == {
            "short-3",
            "medium-3",
            "medium-10",
            "long-3",
            "long-10",
            "long-40",
            "untagged-10",  # no tag: the 30-day default, not forever
        }

    def test_default_days_for_untagged_rows(self, clickhouse: ClickHouse, db: str) -> None:
        table = f"{db}.otel_logs"
        clickhouse.sql(logs_table_ddl(database=db, default_days=7))
        clickhouse.sql(f"SYSTEM STOP TTL MERGES {table}")
        now = time.time_ns()
        clickhouse.insert(
            table,
            [
                row(now - 3 * DAY_NS, {"id": "untagged-3"}),
                row(now - 10 * DAY_NS, {"id": "untagged-10"}),
                row(now - 10 * DAY_NS, tagged("long", 90, id="long-10")),
            ],
        )
        expire(clickhouse, table)
        assert ids(clickhouse, table) == {"untagged-3", "long-10"}

    def test_privlog_records_carry_their_retention_into_columns(
        self, clickhouse: ClickHouse, db: str
    ) -> None:
        """Real records from the pipeline: the attribute names the table reads are the ones privlog writes."""
        table = f"{db}.otel_logs"
        clickhouse.sql(logs_table_ddl(database=db))
        sink = ListSink()
        pl = PrivacyLog(Policy.from_dict(FULL, environ=ENV), sinks=[sink])
        app = FastAPI()
        app.add_middleware(PrivacyLogMiddleware, privlog=pl, user_id=lambda scope: "alice@example.com")

        @app.get("/users/{user_id}")
        async def user(user_id: int) -> dict[str, int]:
            return {"id": user_id}

        with TestClient(app, client=("127.0.0.1", 40000)) as c:
            c.get("/users/90817263", headers={"x-forwarded-for": "198.51.100.77"})
        pl.close()
        clickhouse.insert(table, [row(r.timestamp_ns, r.attributes, service="test") for r in sink.records])

        got = clickhouse.rows(
            f"SELECT PrivlogStream, RetentionClass, RetentionDays, EventName, "
            f"LogAttributes['http.route'] AS route FROM {table} ORDER BY PrivlogStream"
        )
        assert got == [
            {
                "PrivlogStream": "analytics",
                "RetentionClass": "analytics",
                "RetentionDays": 7,
                "EventName": "http.request",
                "route": "/users/{user_id}",
            },
            {
                "PrivlogStream": "security",
                "RetentionClass": "security",
                "RetentionDays": 90,
                "EventName": "http.request",
                "route": "/users/{user_id}",
            },
        ]
        pseudonym = next(r.attributes["user.id"] for r in sink.records if r.stream == "security")
        assert pseudonym != "alice@example.com"
        found = clickhouse.rows(subject_query([pseudonym], table="otel_logs", database=db))
        assert [r["LogAttributes"]["privlog.stream"] for r in found] == ["security"]


NASTY = [
    "o'brien",
    "back\\slash",
    "\\'",
    "quote'\\'end",
    "tab\tnew\nline\r",
    "nul\0bell\x07",
    "ünï€😀",
    "`tick`",
]


class TestDataSubject:
    @pytest.fixture
    def table(self, clickhouse: ClickHouse, db: str) -> str:
        clickhouse.sql(logs_table_ddl(database=db))
        now = time.time_ns()
        subjects = [*NASTY, "alice-p1", "alice-p2", "bob-p1"]
        clickhouse.insert(
            f"{db}.otel_logs",
            [
                row(now - i * 1_000_000, tagged("long", 90, **{"user.id": s, "id": s}))
                for i, s in enumerate(subjects)
            ]
            + [row(now, tagged("long", 90, id="anonymous"))],
        )
        return db

    def test_query_finds_only_the_subjects_rows(self, clickhouse: ClickHouse, table: str) -> None:
        found = clickhouse.rows(subject_query(["alice-p1", "alice-p2", "nobody"], database=table))
        assert sorted(r["LogAttributes"]["id"] for r in found) == ["alice-p1", "alice-p2"]
        assert list(found[0]) == list(EXPORTER_COLUMNS)  # SELECT *: the stored columns, not derived ones

    @pytest.mark.parametrize("value", NASTY)
    def test_awkward_pseudonyms_match_exactly(self, clickhouse: ClickHouse, table: str, value: str) -> None:
        found = clickhouse.rows(subject_query([value], database=table))
        assert [r["LogAttributes"]["id"] for r in found] == [value]

    def test_other_attribute(self, clickhouse: ClickHouse, table: str) -> None:
        found = clickhouse.rows(subject_query(["alice-p1"], attribute="id", database=table))
        assert len(found) == 1
        assert clickhouse.rows(subject_query(["alice-p1"], attribute="session.id", database=table)) == []

    @pytest.mark.parametrize("lightweight", [False, True])
    def test_delete_erases_only_the_subjects_rows(
        self, clickhouse: ClickHouse, table: str, lightweight: bool
    ) -> None:
        before = ids(clickhouse, f"{table}.otel_logs")
        clickhouse.sql(
            subject_delete(["alice-p1", "alice-p2", *NASTY], database=table, lightweight=lightweight)
        )
        assert ids(clickhouse, f"{table}.otel_logs") == before - {"alice-p1", "alice-p2", *NASTY}
        assert "bob-p1" in before
        assert "anonymous" in before

    def test_statement_forms(self) -> None:
        assert subject_delete(["p"], database="otel", cluster="c") == (
            "ALTER TABLE `otel`.`otel_logs` ON CLUSTER `c` DELETE WHERE LogAttributes['user.id'] IN ('p')"
        )
        assert subject_delete(["p", "p"], lightweight=True) == (
            "DELETE FROM `otel_logs` WHERE LogAttributes['user.id'] IN ('p')"
        )
        assert subject_query(["p"], table="t") == (
            "SELECT * FROM `t` WHERE LogAttributes['user.id'] IN ('p') ORDER BY Timestamp"
        )

    def test_refuses_to_match_nobody_or_a_bare_string(self) -> None:
        with pytest.raises(ValueError, match="no pseudonyms"):
            subject_delete([])
        with pytest.raises(TypeError, match="sequence"):
            subject_query("alice-p1")


class TestQuote:
    def test_escapes_quotes_and_backslashes(self) -> None:
        assert _quote("it's") == "'it\\'s'"
        assert _quote("a\\b") == "'a\\\\b'"
        assert _quote("\\'") == "'\\\\\\''"
        assert _quote("x\ny\0") == "'x\\ny\\0'"
        assert _quote("\x01") == "'\\x01'"

    @pytest.mark.parametrize("value", [*NASTY, "", "'; DROP TABLE otel_logs; --"])
    def test_clickhouse_reads_back_the_same_bytes(self, clickhouse: ClickHouse, value: str) -> None:
        assert clickhouse.sql(f"SELECT hex({_quote(value)})") == value.encode().hex().upper()


class TestLastVisit:
    """Rows counted from their subject's last visit: the TTL leaves them, the sweep deletes a
    subject's rows together once its last visit is old enough; a held subject stays."""

    def test_a_subject_loses_all_its_rows_only_when_its_last_visit_is_too_old(
        self, clickhouse: ClickHouse, db: str
    ) -> None:
        table = f"{db}.otel_logs"
        clickhouse.sql(logs_table_ddl(database=db))
        clickhouse.sql(f"SYSTEM STOP TTL MERGES {table}")
        now = time.time_ns()
        visits = [("alice", 1000), ("alice", 100), ("bob", 800), ("carol", 900), ("", 800), ("", 10)]
        rows = [
            row(
                now - age * DAY_NS,
                tagged(
                    "behaviour",
                    730,
                    id=f"{subject or 'nobody'}-{age}",
                    **{"privlog.retention.from": "last_visit", "privlog.retention.subject_id": subject},
                ),
            )
            for subject, age in visits
        ]
        clickhouse.insert(table, rows)
        expire(clickhouse, table)  # the TTL: only the subjectless row older than 730 days goes
        assert ids(clickhouse, table) == {"alice-1000", "alice-100", "bob-800", "carol-900", "nobody-10"}
        today = time.strftime("%Y-%m-%d", time.gmtime(now / 1e9))
        clickhouse.sql(last_visit_sweep(today, database=db, held_subjects=["carol"]))
        assert ids(clickhouse, table) == {"alice-1000", "alice-100", "carol-900", "nobody-10"}
        later = time.strftime("%Y-%m-%d", time.gmtime(now / 1e9 + 700 * 86_400))
        clickhouse.sql(last_visit_sweep(later, database=db, lightweight=True))
        assert ids(clickhouse, table) == {"nobody-10"}
