"""The last-visit sweep over a store of one million records and 100,000 subjects.

The issue's bar: under a minute on this machine, with memory bounded by the last-seen index
(files are streamed line by line, never held whole). The store is written directly in the
format the JSONL sink writes (one record ~250 bytes), spread over two years of day files; on
the sweep's day about half of the subjects' last visits are too old.
"""

from __future__ import annotations

import random
import resource
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from privlog.sinks.jsonl import META_FILE, sweep

RECORDS = 1_000_000
SUBJECTS = 100_000
DAYS = 730
START = date(2024, 1, 1)

pytestmark = pytest.mark.benchmark(group="retention")


def write_store(directory: Path) -> None:
    stream = directory / "analytics"
    stream.mkdir(parents=True)
    (stream / META_FILE).write_bytes(
        orjson.dumps({"stream": "analytics", "retention_days": DAYS, "from": "last_visit"})
    )
    rng = random.Random(7)
    # Half of the subjects visit only in the first year: on the sweep's day their last visit
    # is too old; the other half keep coming back.
    leavers = [f"{i:020d}" for i in range(SUBJECTS // 2)]
    stayers = [f"{i:020d}" for i in range(SUBJECTS // 2, SUBJECTS)]
    per_day = RECORDS // DAYS + 1
    written = 0
    for day in range(DAYS):
        when = START + timedelta(days=day)
        lines = []
        for _ in range(min(per_day, RECORDS - written)):
            lines.append(
                b'{"timestamp":"%sT12:00:00.000Z","event.name":"http.request","http.request.method":"GET",'
                b'"url.path":"/shop/{item}","http.response.status_code":200,"session.id":"%s",'
                b'"privlog.retention.subject_id":"%s","privlog.stream":"analytics",'
                b'"privlog.retention.class":"behaviour","privlog.retention.days":730,'
                b'"privlog.retention.from":"last_visit"}'
                % (when.isoformat().encode(), rng.getrandbits(100).to_bytes(13, "big").hex().encode(),
                   rng.choice(leavers if day < 365 and rng.random() < 0.5 else stayers).encode())
            )
        written += len(lines)
        (stream / f"{when.isoformat()}.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def test_last_visit_sweep(benchmark: Any, tmp_path: Path) -> None:
    write_store(tmp_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    today = START + timedelta(days=DAYS + 365)  # the subjects last seen in the first year expire
    benchmark.extra_info["today"] = today.isoformat()
    benchmark.extra_info["records"] = RECORDS
    benchmark.extra_info["subjects"] = SUBJECTS
    benchmark.pedantic(sweep, args=(tmp_path, today), rounds=1, iterations=1)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    benchmark.extra_info["peak_rss_growth_mib"] = round(grown / 1024, 1)
    remaining = sum(p.read_bytes().count(b"\n") for p in (tmp_path / "analytics").glob("*.jsonl"))
    benchmark.extra_info["records_left"] = remaining
    assert 0 < remaining < RECORDS
