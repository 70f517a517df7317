"""``privlog audit STORE``: check a JSONL store against its policy; exit 1 on any finding."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .._errors import UsageError
from .common import IO

if TYPE_CHECKING:  # the checks are imported when an audit runs, not with every command
    from .._ops.audit_checks import Report
    from .._ops.clickhouse_http import ClickHouseHTTP


def render_report(report: Report) -> str:
    """The findings, grouped by kind, stream and attribute, with the first few places: no values."""
    from .._ops.audit_checks import KINDS

    lines = [
        f"privlog audit {report.store}: {report.records:,} record(s) in {report.files} file(s), "
        f"{len(report.streams)} stream(s), {report.seconds:.1f} s"
    ]
    lines += [f"note: {n}" for n in report.notes]
    if report.clean:
        lines.append("no findings: the store keeps the policy's promises")
        return "\n".join(lines) + "\n"
    total = sum(t.count for t in report.findings.values())
    lines.append(f"{total:,} finding(s):")
    for (kind, stream, attribute), tally in sorted(report.findings.items()):
        where = " ".join(x for x in (stream, attribute) if x)
        lines.append(f"  {kind}: {tally.count:,} × {KINDS[kind]}{f' ({where})' if where else ''}")
        lines.append(f"    at {', '.join(tally.where)}{', ...' if tally.count > len(tally.where) else ''}")
    return "\n".join(lines) + "\n"


_CLEAR = "\r\033[K"  # the progress line, cleared


def _progress(done: int, total: int) -> None:
    print(f"\rprivlog audit: {100 * done // total:3d}% of {total / 1e6:,.0f} MB", end="", file=sys.stderr)


def _cmd_audit(args: argparse.Namespace) -> int:
    from .._keys.store import KeyStore
    from .._notice.explain import load_policy
    from .._ops.audit import audit_store

    sources = [x for x in (args.store, args.clickhouse, args.chdb) if x]
    if len(sources) != 1:
        raise UsageError(
            "privlog audit",
            "no source given" if not sources else "more than one source given",
            "pass one of STORE, --clickhouse URL or --chdb PATH",
        )
    policy = load_policy(args.policy) if args.policy else None
    keys = args.keys or (policy.key_store if policy is not None else None)
    held = frozenset(h.key_id for h in KeyStore.load(keys).held()) if keys else None
    tty = sys.stderr.isatty()
    if args.store:
        report = audit_store(args.store, policy, held_key_ids=held, on_progress=_progress if tty else None)
    else:
        from .._ops.clickhouse_http import ClickHouseHTTP, failure

        server = ClickHouseHTTP.from_url(args.clickhouse) if args.clickhouse else None
        try:
            report = _audit_table(args, server, policy, held, tty)
        except (OSError, ValueError) as exc:  # no answer, a failed query, a refused password
            # The server by host and port: never the URL's user:password, nor a quoted URL.
            said = f" at ClickHouse {server.where} ({failure(exc)})" if server else f" ({exc})"
            print(f"{_CLEAR if tty else ''}privlog audit: the table could not be read{said}", file=sys.stderr)
            return IO
    if tty:
        print(_CLEAR, end="", file=sys.stderr)
    print(render_report(report), end="")
    return 0 if report.clean else 1


def _audit_table(
    args: argparse.Namespace, server: ClickHouseHTTP | None, policy: Any, held: frozenset[str] | None, tty: bool
) -> Report:
    from .._ops.audit_clickhouse import audit_rows, chdb_lines, http_lines, select_rows

    query = select_rows(args.table, args.database)
    lines = http_lines(server, query) if server else chdb_lines(args.chdb, query)
    source = f"{server.url if server else args.chdb} {args.table}"

    def rows_read(n: int) -> None:
        print(f"\rprivlog audit: {n:,} rows", end="", file=sys.stderr)

    return audit_rows(lines, source, policy, held_key_ids=held, on_row=rows_read if tty else None)


def add_commands(sub: Any) -> None:
    """Register ``privlog audit``."""
    audit = sub.add_parser(
        "audit",
        help="check a JSONL store for raw personal data, unlisted attributes, expired records; exit 1 on findings",
    )
    audit.add_argument("store", nargs="?", help="the JSONL store (the policy's export.directory)")
    audit.add_argument(
        "--clickhouse",
        metavar="URL",
        help="audit the logs table on this ClickHouse HTTP interface, http://[USER:PASSWORD@]HOST:8123 "
        "(or CLICKHOUSE_USER, CLICKHOUSE_PASSWORD)",
    )
    audit.add_argument("--chdb", metavar="PATH", help="audit the logs table in this chdb database folder")
    audit.add_argument("--table", default="otel_logs", help="the logs table (default: otel_logs)")
    audit.add_argument("--database", default=None, help="its database (default: the connection's)")
    audit.add_argument(
        "--policy", help="the policy the store was written with (checks attributes and truncation)"
    )
    audit.add_argument(
        "--keys", help="the key store (default: the policy's); records of shredded keys are findings"
    )
    audit.set_defaults(func=_cmd_audit)
