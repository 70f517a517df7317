"""``privlog retention sweep --clickhouse URL``: last-visit retention and legal holds in ClickHouse.

A row TTL deletes rows counted from their own time; rows counted from their subject's last
visit need a statement that looks at the subject's other rows, run daily (e.g. from cron).
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path

from .._errors import UsageError
from .common import IO


def _host(url: str) -> str:
    """``host[:port]`` of ``url``, without any ``user:password@`` before it."""
    return urllib.parse.urlsplit(url).netloc.rpartition("@")[2] or "(no host)"


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
    url = args.clickhouse
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UsageError("--clickhouse", "is not an HTTP URL", "give the server's HTTP interface, e.g. http://localhost:8123")
    request = urllib.request.Request(url, data=statement.encode(), method="POST")  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:  # noqa: S310
            response.read()
    except (OSError, ValueError) as exc:  # unreachable, refused, a failed statement, a malformed host
        # Exit 5 as `audit` does for an unreadable table: nothing was swept, which is not
        # "nothing to do". The host only: a URL's user:password never reaches the terminal,
        # and a ValueError (http.client's InvalidURL) may quote it, so it is named by type.
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        said = type(exc).__name__ if isinstance(exc, ValueError) else str(reason)
        print(f"privlog: ClickHouse at {_host(url)} did not run the sweep ({said})", file=sys.stderr)
        return IO
    print(f"swept rows counted from the last visit in {args.table} ({len(holds)} active hold(s) kept)")
    return 0
