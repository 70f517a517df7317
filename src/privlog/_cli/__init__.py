"""The ``privlog`` command: demo, policy check, retention sweep, secret, keys, data-subject
requests, reveal, storage schemas."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from .._errors import PolicyError
from .._keys.ring import KeyRing
from .._policy.advice import raw_data_warnings
from .._policy.model import Policy
from .._version import __version__
from . import audit, holds, init, notice
from .anonymize import add_parser as add_anonymize

DISTRIBUTION = "privlog-middleware"
"""This project's name on the package index; the import package and the command are ``privlog``."""


def describe(policy: Policy) -> str:
    """The compiled policy in plain words: what each stream records and for how long."""
    lines = [f"service: {policy.service}"]
    if policy.key_store is not None:
        lines.append(
            f"keys: {policy.hash_algorithm}, key store {policy.key_store} (rotated by epoch, shredded after retention)"
        )
    elif policy.secret is not None:
        key_id = KeyRing.from_secret(policy.secret, policy.hash_algorithm).key_id
        lines.append(
            f"key: {policy.hash_algorithm}, key id {key_id} (from {policy.secret_setting}), rotation {policy.rotation}"
        )
    proxies = ", ".join(str(n) for n in policy.trusted_proxies) or "none (proxy headers are ignored)"
    lines.append(f"trusted proxies: {proxies}")
    lines.append(f"export: {policy.export.sink} (JSONL store: {policy.export.directory})")
    for s in policy.streams:
        r = s.retention
        gate = ", skipped for Sec-GPC/DNT opt-outs" if s.consent_gated else ""
        lines.append(f"\nstream {s.name!r}: {', '.join(sorted(s.events))} records{gate}")
        lines.append(
            f"  retention {r.name!r}: {r.days} days"
            + (f" after each {r.subject}'s last visit" if r.subject else "")
            + f"; purpose: {r.purpose}; legal basis: {r.legal_basis}"
        )
        for name, rule in s.fields.items():
            opts = ", ".join(f"{k}={v}" for k, v in rule.options.items())
            lines.append(f"  {name:15} {rule.action}{f' ({opts})' if opts else ''}")
        for header, action in s.headers.items():
            pattern = s.header_patterns.get(header)
            lines.append(f"  header {header}: {action}{f' (pattern={pattern})' if pattern else ''}")
    lines.append("\nanything not listed is never captured.")
    return "\n".join(lines)


def _cmd_check(args: argparse.Namespace) -> int:
    policy = Policy.from_toml(args.file)
    _open_resources(policy)
    print(f"{args.file}: valid\n")
    print(describe(policy))
    warnings = raw_data_warnings(policy)
    if warnings:
        print(f"\n{len(warnings)} warning(s): raw personal data is kept")
        for w in warnings:
            print(f"  warning: {w}")
    return 0


def _open_resources(policy: Policy) -> None:
    """Open what the policy names (key store, location database), as start-up would."""
    from .._keys.source import open_keys
    from .._transforms.location import open_database

    open_keys(policy)
    if policy.geo_database is not None:
        open_database(policy.geo_database).close()


def _cmd_sweep(args: argparse.Namespace) -> int:
    from ..sinks.jsonl import stream_dirs, sweep

    if args.clickhouse:
        from .retention import sweep_clickhouse

        return sweep_clickhouse(args)
    if args.directory is None:
        raise PolicyError("privlog retention sweep", "no store given", "pass the store DIR or --clickhouse URL")

    directory = Path(args.directory)
    if not any(stream_dirs(directory)):
        print(
            f"{directory}: no privlog store here (no stream folders with retention metadata)", file=sys.stderr
        )
        return 1
    deleted = sweep(directory)
    for path in deleted:
        print(f"deleted {path}")
    print(f"{len(deleted)} expired file(s) deleted")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .._demo import run_demo

    return run_demo(Path(args.dir))


def _store_dir(args: argparse.Namespace) -> str:
    directory: str | None = args.directory or os.environ.get("PRIVLOG_KEY_STORE")
    if not directory:
        raise PolicyError("DIR", "no key store given", "pass the store directory or set PRIVLOG_KEY_STORE")
    return directory


def _cmd_keys(args: argparse.Namespace) -> int:
    from .._keys.store import KeyStore

    if args.action == "init":
        store = KeyStore.init(_store_dir(args), args.rotation, args.retention_days)
        print(
            f"created {store.path} (owner-only): rotation {store.rotation}, keys kept {store.retention_days} days"
        )
        print("copy this directory to every host of the deployment now; each host then advances it alone.")
        print(f'point the policy at it: [secret] store = "{store.path.parent}" (or PRIVLOG_KEY_STORE)')
        return 0
    store = KeyStore.load(_store_dir(args))
    if args.action == "status":
        print(
            f"{store.path}: rotation {store.rotation}, keys kept {store.retention_days} days after their epoch"
        )
        for held in store.held():
            print(f"  epoch {held.label:12} key id {held.key_id:32} shredded on {held.shred_on}")
    elif args.action == "rotate":
        print(f"new key chain from now on; current key id {store.rotate()}")
    elif args.action == "shred":
        gone = store.shred()
        print(f"shredded {len(gone)} expired key(s)" + (f": {', '.join(gone)}" if gone else ""))
    return 0


def _cmd_subject(args: argparse.Namespace) -> int:
    from .._ops.subject import backend_queries, delete_in_store, find_in_store, subject_matches

    if not args.user_id and not args.ip:
        raise PolicyError("privlog subject", "no identifier given", "pass --user-id ID and/or --ip ADDRESS")
    policy = Policy.from_toml(args.policy)
    matches = subject_matches(policy, user_id=args.user_id, ip=args.ip)
    if not matches:
        print("this policy neither hashes nor pseudonymises those identifiers: nothing links records to them")
        return 0
    print("the subject appears in the logs as:")
    for m in matches:
        print(f"  {m.attribute} = {m.value}   (key id {m.key_id})")
    store = Path(args.store or policy.export.directory)
    if store.is_dir():
        result = delete_in_store(store, matches) if args.delete else find_in_store(store, matches)
        verb = "deleted" if args.delete else "found"
        total = sum(result.records.values())
        print(f"\nJSONL store {store}: {verb} {total} record(s)")
        for path, n in result.records.items():
            print(f"  {path}: {n}")
        for path, n in result.damaged.items():
            # Cut off by a full disk or a crash: reported, never a reason to fail the request.
            print(f"  {path}: skipped {n} damaged line(s) that could not be read", file=sys.stderr)
    print("\nelsewhere:")
    for name, query in backend_queries(matches).items():
        print(f"  {name}:\n    {query}")
    return 0


def _cmd_reveal(args: argparse.Namespace) -> int:
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
        return 0
    print(
        "no key held can open this token: wrong field, another deployment, or its key was shredded",
        file=sys.stderr,
    )
    return 1


def _cmd_schema_clickhouse(args: argparse.Namespace) -> int:
    from ..clickhouse import logs_table_ddl

    try:
        ddl = logs_table_ddl(
            args.table, args.database, args.cluster, default_days=args.default_days, engine=args.engine
        )
    except ValueError as exc:
        print(f"privlog: {exc}", file=sys.stderr)
        return 2
    print(ddl.rstrip() + ";")
    return 0


def _cmd_secret(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(48))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="privlog", description="Request logs that keep your privacy policy's promises."
    )
    parser.add_argument("--version", action="version", version=f"privlog {__version__} ({DISTRIBUTION})")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="run a FastAPI app, send requests full of personal data, show what was logged"
    )
    demo.add_argument(
        "--dir", default="privlog-demo", help="where the demo's JSONL store goes (default: ./privlog-demo)"
    )
    demo.set_defaults(func=_cmd_demo)
    policy = sub.add_parser("policy", help="policy files").add_subparsers(dest="action", required=True)
    check = policy.add_parser("check", help="validate a policy file and print what it records")
    check.add_argument("file")
    check.set_defaults(func=_cmd_check)
    notice.add_commands(policy)
    retention = sub.add_parser("retention", help="retention of the JSONL store").add_subparsers(
        dest="action", required=True
    )
    sweep = retention.add_parser(
        "sweep",
        help="delete records past their stream's retention",
        description="Delete the JSONL store's expired records (by each record's time, or by each "
        "subject's last visit), keeping what legal holds keep; or, with --clickhouse, delete "
        "the rows a row TTL cannot: those counted from a subject's last visit.",
    )
    sweep.add_argument("directory", nargs="?", help="the JSONL store")
    sweep.add_argument("--clickhouse", metavar="URL", help="a ClickHouse server's HTTP URL instead of a store")
    sweep.add_argument("--table", default="otel_logs", help="with --clickhouse: the logs table (default otel_logs)")
    sweep.add_argument("--database", help="with --clickhouse: the database (default: the connection's)")
    sweep.add_argument("--holds", metavar="DIR", help="with --clickhouse: the store whose hold log to respect")
    sweep.add_argument("--timeout", type=float, default=300.0, help="with --clickhouse: seconds to wait")
    sweep.set_defaults(func=_cmd_sweep)
    keys = sub.add_parser("keys", help="the key store: rotation by epoch and crypto-shredding")
    kact = keys.add_subparsers(dest="action", required=True)
    kinit = kact.add_parser("init", help="create a key store (a random key chain)")
    kinit.add_argument("--rotation", default="daily", choices=["never", "daily", "weekly", "monthly"])
    kinit.add_argument("--retention-days", type=int, default=90, help="keep keys this long after their epoch")
    for name, text in (
        ("status", "epochs held and when each is shredded"),
        ("rotate", "start a new key chain now"),
        ("shred", "destroy expired keys now"),
    ):
        kact.add_parser(name, help=text)
    for parser_ in kact.choices.values():
        parser_.add_argument("directory", nargs="?", help="the store (default: $PRIVLOG_KEY_STORE)")
    keys.set_defaults(func=_cmd_keys)
    subject = sub.add_parser("subject", help="find or delete one person's records (GDPR Art. 15/17)")
    subject.add_argument("--policy", required=True, help="the policy file the records were made with")
    subject.add_argument("--user-id")
    subject.add_argument("--ip")
    subject.add_argument("--store", help="the JSONL store (default: the policy's export.directory)")
    subject.add_argument("--delete", action="store_true", help="delete the records from the JSONL store")
    subject.set_defaults(func=_cmd_subject)
    reveal = sub.add_parser("reveal", help="re-identify a reversible pseudonym (for a lawful request)")
    reveal.add_argument("token")
    reveal.add_argument("--policy", required=True, help="the policy file the record was made with")
    reveal.add_argument("--field", default="user_id", choices=["user_id", "session_id"])
    reveal.add_argument("--header", help="the header name, for a reversible header")
    reveal.set_defaults(func=_cmd_reveal)
    schema = sub.add_parser("schema", help="storage schemas for privlog records").add_subparsers(
        dest="target", required=True
    )
    clickhouse = schema.add_parser(
        "clickhouse",
        help="CREATE TABLE for the Collector's ClickHouse exporter, rows expiring by their retention tag",
    )
    clickhouse.add_argument("--table", default="otel_logs", help="table name (default: otel_logs)")
    clickhouse.add_argument("--database", default=None, help="database (default: the connection's)")
    clickhouse.add_argument("--cluster", default=None, help="add ON CLUSTER for a replicated setup")
    clickhouse.add_argument("--engine", default="MergeTree", help="table engine, e.g. ReplicatedMergeTree")
    clickhouse.add_argument(
        "--default-days", type=int, default=30, help="retention of rows without a privlog.retention.days tag"
    )
    clickhouse.set_defaults(func=_cmd_schema_clickhouse)
    add_anonymize(sub)
    init.add_commands(sub)
    holds.add_commands(sub)
    audit.add_commands(sub)
    secret = sub.add_parser("secret", help="print a new random secret for PRIVLOG_SECRET")
    secret.set_defaults(func=_cmd_secret)
    return parser


def clashing_distribution() -> str | None:
    """The version of the unrelated ``privlog`` distribution if it is installed here.

    That project (a logging linter) installs its own ``privlog`` package and command over
    ours, so whichever was installed last wins: say so instead of failing obscurely.
    """
    from importlib import metadata

    try:
        return metadata.version("privlog")
    except metadata.PackageNotFoundError:
        return None


def warn_clash() -> None:
    other = clashing_distribution()
    if other is not None:
        print(
            f"privlog: warning: the unrelated 'privlog' distribution {other} is installed beside "
            f"{DISTRIBUTION}; both provide the `privlog` command and import package, so either may "
            f"be broken. Fix: pip uninstall privlog && pip install --force-reinstall {DISTRIBUTION}",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    warn_clash()
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except PolicyError as exc:
        print(f"privlog: invalid policy: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
