"""The ``privlog`` command: demo, policy check, retention sweep, secret, keys, data-subject
requests, reveal, storage schemas. One module per command group; errors become exit codes here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .._errors import ConfigurationError, PolicyError, PrivlogError, UsageError
from .._version import __version__
from . import audit, common, holds, init, keys, notice, policy, records
from .anonymize import add_parser as add_anonymize
from .common import EXIT_CODES, Subparsers, command
from .policy import describe

__all__ = ["DISTRIBUTION", "build_parser", "describe", "main"]

DISTRIBUTION = "privlog-middleware"
"""This project's name on the package index; the import package and the command are ``privlog``."""


def _demo(args: argparse.Namespace) -> int:
    from .._demo import run_demo

    return run_demo(Path(args.dir))


def _schema_clickhouse(args: argparse.Namespace) -> int:
    from ..clickhouse import logs_table_ddl

    try:
        ddl = logs_table_ddl(
            args.table, args.database, args.cluster, default_days=args.default_days, engine=args.engine
        )
    except ValueError as exc:
        raise UsageError("privlog schema clickhouse", str(exc), "see privlog schema clickhouse --help") from None
    print(ddl.rstrip() + ";")
    return common.OK


def _add_demo_and_schema(sub: Subparsers) -> None:
    demo = command(
        sub,
        "demo",
        "run a FastAPI app, send it requests full of personal data, show what was logged",
        "Needs the demo extra: pip install 'privlog-middleware[demo]'.",
    )
    demo.add_argument(
        "--dir", default="privlog-demo", help="where the demo's JSONL store goes (default: ./privlog-demo)"
    )
    demo.set_defaults(func=_demo)
    schema = command(sub, "schema", "storage schemas for privlog records")
    targets = schema.add_subparsers(dest="target", required=True, metavar="TARGET")
    clickhouse = command(
        targets,
        "clickhouse",
        "print CREATE TABLE for the Collector's ClickHouse exporter, rows expiring by their retention tag",
    )
    clickhouse.add_argument("--table", default="otel_logs", help="table name (default: otel_logs)")
    clickhouse.add_argument("--database", default=None, help="database (default: the connection's)")
    clickhouse.add_argument("--cluster", default=None, help="add ON CLUSTER for a replicated setup")
    clickhouse.add_argument("--engine", default="MergeTree", help="table engine, e.g. ReplicatedMergeTree")
    clickhouse.add_argument(
        "--default-days", type=int, default=30, help="retention of rows without a privlog.retention.days tag"
    )
    clickhouse.set_defaults(func=_schema_clickhouse)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="privlog",
        description="Request logs that keep your privacy policy's promises.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"privlog {__version__} ({DISTRIBUTION})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo_and_schema(sub)
    notice.add_commands(policy.add_commands(sub))
    records.add_commands(sub)
    add_anonymize(sub)
    init.add_commands(sub)
    holds.add_commands(sub)
    audit.add_commands(sub)
    keys.add_commands(sub)
    _describe_every_command(parser)
    return parser


def _describe_every_command(parser: argparse.ArgumentParser) -> None:
    """A command declared without a description gets its one-line help as one, so every
    ``--help`` says what the command does."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not sub.description and helps.get(name):
                    text = str(helps[name])
                    sub.description = text[0].upper() + text[1:] + "."
                _describe_every_command(sub)


def clashing_distribution() -> str | None:
    """The version of the unrelated ``privlog`` distribution if it is installed here.

    That project (a logging linter) installs its own ``privlog`` package and command over
    ours, so whichever was installed last wins: say so instead of failing obscurely. Found by
    its metadata folder on ``sys.path`` (``privlog-1.2.dist-info``), as importlib.metadata finds
    it, without importing that, which costs more than ``privlog anonymize``'s whole start-up.
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, a folder that is gone
            continue
        for name in names:
            stem, _, suffix = name.rpartition(".")
            project, _, version = stem.partition("-")
            if suffix in ("dist-info", "egg-info") and project.lower() == "privlog":
                return version or "unknown"
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


_ERRORS: tuple[tuple[type[PrivlogError], str, int], ...] = (
    (PolicyError, "invalid policy", common.POLICY),
    (ConfigurationError, "configuration", common.CONFIGURATION),
    (UsageError, "usage", common.USAGE),
    (PrivlogError, "error", common.CONFIGURATION),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; its exit code (see ``common``) is returned, not raised."""
    warn_clash()
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except PrivlogError as exc:
        for kind, label, exit_code in _ERRORS:
            if isinstance(exc, kind):
                print(f"privlog: {label}: {exc}", file=sys.stderr)
                return exit_code
        raise  # pragma: no cover - the last entry catches every PrivlogError
    except OSError as exc:  # a path the user gave: its name and the reason, nothing read from it
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"privlog: {where}{exc.strerror or type(exc).__name__}", file=sys.stderr)
        return common.IO
    except KeyboardInterrupt:
        print("privlog: interrupted", file=sys.stderr)
        return common.INTERRUPTED
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
