"""Cost per log record of privlog's logging filters, against the bare logging call, one run.

    pytest benchmarks/test_log_filter.py --benchmark-only --benchmark-timer=time.process_time \
        --benchmark-json=/tmp/logbench.json
    python benchmarks/report.py /tmp/logbench.json

On a shared machine the process's CPU time (``time.process_time``) is far steadier than the
wall clock for records this cheap.

Every call logs through a real logger and a handler that formats the record (into a stream
that discards it), so "bare" is what logging costs an app anyway. Each round logs RECORDS
records with distinct values: a message without personal data, one with an e-mail and an
address, and uvicorn's access line (rewritten by the server filter).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import privlog.logging as privlog_logging
from privlog import Policy, PrivacyLog

RECORDS = 200


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


POLICY = {
    "service": "bench",
    "retention": {"access": {"days": 7, "purpose": "operations", "legal_basis": "legitimate interest"}},
    "streams": {
        "access": {
            "retention": "access",
            "fields": {
                "path": "template",
                "status": "keep",
                "client_ip": "truncate",
                "query": {"action": "allowlist", "allow": ["page"]},
            },
        }
    },
    "export": {"sink": "jsonl"},
}

MESSAGES: dict[str, tuple[str, list[tuple[Any, ...]]]] = {
    "clean": (
        "cache refreshed in %d ms for %s (%d entries)",
        [(i % 50, f"catalog-{i % 7}", i) for i in range(RECORDS)],
    ),
    "personal": (
        "login failed for %s from %s",
        [(f"user{i}@example.org", f"203.0.{i // 256}.{i % 256}") for i in range(RECORDS)],
    ),
    "access": (
        '%s - "%s %s HTTP/%s" %d',
        [
            (f"203.0.113.{i % 256}:{40000 + i}", "GET", f"/users/{4000 + i}?page=2&q=jane{i}", "1.1", 200)
            for i in range(RECORDS)
        ],
    ),
}


@pytest.fixture(scope="module")
def privlog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivacyLog]:
    pl = PrivacyLog(Policy.from_dict(POLICY), directory=tmp_path_factory.mktemp("logs"))
    yield pl
    pl.close()


def _logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers = [logging.StreamHandler(_Discard())]  # type: ignore[list-item]
    logger.handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.filters.clear()
    return logger


def per_record(benchmark: Any, logger: logging.Logger, kind: str) -> None:
    msg, args = MESSAGES[kind]
    info = logger.info

    def run() -> None:
        for a in args:
            info(msg, *a)

    benchmark.extra_info["requests_per_round"] = len(args)
    benchmark.pedantic(run, rounds=60, iterations=1, warmup_rounds=2)


@pytest.mark.parametrize("variant", ["bare", "privlog"])
@pytest.mark.parametrize("kind", ["clean", "personal", "access"])
def test_log_record(benchmark: Any, privlog: PrivacyLog, kind: str, variant: str) -> None:
    """Bare and filtered run one after the other for each kind, so they share the machine's mood."""
    benchmark.group = f"log-{kind}"
    if kind == "access":  # uvicorn's access line through the server filter the adapters install
        name = "uvicorn.access"
        logger = _logger(name)
        if variant == "privlog":
            privlog_logging.install(privlog, loggers=[name])
            logger = _logger_keeping_filters(name)
        try:
            per_record(benchmark, logger, kind)
        finally:
            privlog_logging.uninstall([name])
        return
    logger = _logger(f"bench.{variant}.{kind}")
    if variant == "privlog":
        logger.addFilter(privlog_logging.ScrubbingFilter(privlog))
    per_record(benchmark, logger, kind)


def _logger_keeping_filters(name: str) -> logging.Logger:
    filters = list(logging.getLogger(name).filters)
    logger = _logger(name)
    for f in filters:
        logger.addFilter(f)
    return logger
