"""Commands on stored records: ``retention sweep``, ``subject`` (GDPR Art. 15/17), ``reveal``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .._errors import UsageError
from .._policy.model import Policy
from .common import DECLINED, NOTHING, OK, Subparsers, command, confirm
from .progress import Progress


def sweep(args: argparse.Namespace) -> int:
    from ..sinks.jsonl import stream_dirs
    from ..sinks.jsonl import sweep as sweep_store

    if args.clickhouse:
        if args.dry_run:
            raise UsageError("--dry-run", "is for the JSONL store", "run it without --clickhouse")
        from .retention import sweep_clickhouse

        return sweep_clickhouse(args)
    if args.directory is None:
        raise UsageError("privlog retention sweep", "no store given", "pass the store DIR or --clickhouse URL")
    directory = Path(args.directory)
    if not any(stream_dirs(directory)):
        print(
            f"{directory}: no privlog store here (no stream folders with retention metadata)", file=sys.stderr
        )
        return NOTHING
    expired = sweep_store(directory, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for path in expired:
        print(f"{verb} {path}")
    print(f"{len(expired)} expired file(s) {'to delete' if args.dry_run else 'deleted'}")
    return OK


def subject(args: argparse.Namespace) -> int:
    from .._ops.subject import backend_queries, delete_in_store, find_in_store, subject_matches
    from ..sinks.jsonl_scan import store_files

    if not args.user_id and not args.ip:
        raise UsageError("privlog subject", "no identifier given", "pass --user-id ID and/or --ip ADDRESS")
    policy = Policy.from_toml(args.policy)
    matches = subject_matches(policy, user_id=args.user_id, ip=args.ip)  # a bad --ip: UsageError
    if not matches:
        print("this policy neither hashes nor pseudonymises those identifiers: nothing links records to them")
        return OK
    print("the subject appears in the logs as:")
    for m in matches:
        print(f"  {m.attribute} = {m.value}   (key id {m.key_id})")
    store = Path(args.store or policy.export.directory)
    if store.is_dir():
        files = store_files(store)
        total_bytes = sum(p.stat().st_size for p in files)
        found = find_in_store(store, matches, _progress("searching", total_bytes))
        total = sum(found.records.values())
        print(f"\nJSONL store {store}: found {total} record(s) in {len(files)} file(s)")
        for path, n in found.records.items():
            print(f"  {path}: {n}")
        _report_damaged(found.damaged)
        if args.delete and (total or found.damaged):
            if not args.yes and not _confirmed(f"delete these {total} record(s) from {store}?"):
                print("nothing deleted", file=sys.stderr)
                return DECLINED
            deleted = delete_in_store(store, matches, _progress("deleting", total_bytes))
            print(f"deleted {sum(deleted.records.values())} record(s)")
    print("\nelsewhere:")
    for name, query in backend_queries(matches).items():
        print(f"  {name}:\n    {query}")
    return OK


def _report_damaged(damaged: dict[Path, int]) -> None:
    for path, n in damaged.items():
        # Cut off by a full disk or a crash: reported, never a reason to fail the request.
        print(f"  {path}: skipped {n} damaged line(s) that could not be read", file=sys.stderr)


def _progress(label: str, total: int) -> Callable[[int], None] | None:
    bar = Progress(label, total)
    if not bar.enabled:
        return None

    def advance(n: int) -> None:
        bar.advance(n)
        if bar.done >= bar.total:
            bar.close()

    return advance


def _confirmed(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(
            "--delete", "needs a confirmation and there is no terminal to ask", "pass --yes to delete without asking"
        )
    return confirm(question)


def reveal(args: argparse.Namespace) -> int:
    from .._ops.subject import held_rings

    policy = Policy.from_toml(args.policy)
    domain = f"header:{args.header.lower()}" if args.header else args.field
    for ring in held_rings(policy):
        try:
            value = ring.reveal(domain, args.token)
        except ValueError:
            continue
        print(value.decode("utf-8", "backslashreplace"))
        print(f"(made with key {ring.key_id})", file=sys.stderr)
        return OK
    print(
        "no key held can open this token: wrong field, another deployment, or its key was shredded",
        file=sys.stderr,
    )
    return NOTHING


def add_commands(sub: Subparsers) -> None:
    retention = command(sub, "retention", "retention of the JSONL store")
    actions = retention.add_subparsers(dest="action", required=True, metavar="ACTION")
    sweep_ = command(
        actions,
        "sweep",
        "delete records past their stream's retention",
        "Deletes the JSONL store's expired records (by each record's time, or by each subject's "
        "last visit), keeping what legal holds keep; or, with --clickhouse, the rows a row TTL "
        "cannot: those counted from a subject's last visit. Each stream folder records its "
        "retention, so no policy is needed: run it from cron. A running store also sweeps by "
        "itself once a day.",
    )
    sweep_.add_argument("directory", nargs="?", help="the JSONL store (the policy's export.directory)")
    sweep_.add_argument(
        "--dry-run", action="store_true", help="list the expired day files, delete nothing (JSONL store only)"
    )
    sweep_.add_argument(
        "--clickhouse",
        metavar="URL",
        help="a ClickHouse server's HTTP URL instead of a store, http://[USER:PASSWORD@]HOST:8123 "
        "(or CLICKHOUSE_USER, CLICKHOUSE_PASSWORD)",
    )
    sweep_.add_argument("--table", default="otel_logs", help="with --clickhouse: the logs table (default otel_logs)")
    sweep_.add_argument("--database", help="with --clickhouse: the database (default: the connection's)")
    sweep_.add_argument("--holds", metavar="DIR", help="with --clickhouse: the store whose hold log to respect")
    sweep_.add_argument("--timeout", type=float, default=300.0, help="with --clickhouse: seconds to wait")
    sweep_.set_defaults(func=sweep)

    subject_ = command(
        sub,
        "subject",
        "find or delete one person's records (GDPR Art. 15 access, Art. 17 erasure)",
        "Computes what the person's identifiers became under every key still held, searches the "
        "JSONL store line by line (progress on a terminal), and prints queries for the other "
        "backends. --delete asks before deleting unless --yes is given.",
    )
    subject_.add_argument("--policy", required=True, help="the policy file the records were made with")
    subject_.add_argument("--user-id", metavar="ID", help="the person's user id as the app knows it (raw)")
    subject_.add_argument("--ip", metavar="ADDRESS", help="an IP address the person used (raw)")
    subject_.add_argument("--store", help="the JSONL store (default: the policy's export.directory)")
    subject_.add_argument("--delete", action="store_true", help="delete the records found from the JSONL store")
    subject_.add_argument("--yes", "-y", action="store_true", help="with --delete: do not ask for confirmation")
    subject_.set_defaults(func=subject)

    reveal_ = command(
        sub,
        "reveal",
        "re-identify a reversible pseudonym, for a lawful request",
        "Only values the policy marks `reversible` (AES-SIV) can be opened, and only while the key "
        "that made them is held.",
    )
    reveal_.add_argument("token", help="the pseudonym as it appears in a record")
    reveal_.add_argument("--policy", required=True, help="the policy file the record was made with")
    reveal_.add_argument(
        "--field", default="user_id", choices=["user_id", "session_id"], help="the field the token came from"
    )
    reveal_.add_argument("--header", help="the header name, for a reversible header")
    reveal_.set_defaults(func=reveal)
