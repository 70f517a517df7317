"""``privlog retention sweep --clickhouse URL``: last-visit retention and legal holds in ClickHouse.

A row TTL deletes rows counted from their own time; rows counted from their subject's last
visit need a statement that looks at the subject's other rows, run daily (e.g. from cron).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from .._ops.clickhouse_http import ClickHouseHTTP, failure
from .common import IO


def sweep_clickhouse(args: argparse.Namespace) -> int:
    from ..clickhouse import last_visit_sweep
    from ..sinks.holdlog import HoldLog

    today = date.today()
    holds = HoldLog(Path(args.holds)).active(today) if args.holds else []
    statement = last_visit_sweep(
        today.isoformat(),
        args.table,
        args.database,
        held_subjects=sorted({s for h in holds for s in h.subjects}),
        held=sorted({(a, v) for h in holds for a, v, _ in h.pseudonyms}),
    )
    server = ClickHouseHTTP.from_url(args.clickhouse)
    try:
        with server.post(statement, args.timeout) as response:
            response.read()
    except (OSError, ValueError) as exc:  # unreachable, refused, a failed statement, a malformed host
        # Exit 5 as `audit` does for an unreadable table: nothing was swept, which is not
        # "nothing to do". The host only: a URL's user:password never reaches the terminal.
        print(f"privlog: ClickHouse at {server.where} did not run the sweep ({failure(exc)})", file=sys.stderr)
        return IO
    print(f"swept rows counted from the last visit in {args.table} ({len(holds)} active hold(s) kept)")
    return 0
