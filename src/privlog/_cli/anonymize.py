"""``privlog anonymize``: the command line of :mod:`privlog._ops.anonymize`."""

from __future__ import annotations

import argparse
import os
import sys

from .._ops.logformats import FORMATS


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``privlog anonymize``."""
    cmd = sub.add_parser(
        "anonymize",
        help="apply a policy to a web server's access log (nginx, Apache, Caddy), line by line",
        description=(
            "Reads an access log (stdin, a file or a FIFO) and writes it with the client address, "
            "path, query, referrer and user agent transformed as the policy's stream says; "
            "cookies and credentials never pass. A line that does not parse is scrubbed as free "
            "text and counted. Counts go to stderr at exit."
        ),
    )
    cmd.add_argument("input", nargs="?", help="the log to read (default: stdin; a FIFO works)")
    cmd.add_argument("--policy", required=True, help="the policy file")
    cmd.add_argument("--stream", help="the stream whose rules apply (needed if several take http requests)")
    cmd.add_argument(
        "--format",
        default="nginx-combined",
        metavar="FORMAT",
        help=f"the input's format: {', '.join(FORMATS)} (default: nginx-combined)",
    )
    cmd.add_argument(
        "--output",
        default="same",
        choices=["same", "json", "none"],
        help="same: the input's format; json: privlog records, one a line; none: only --export",
    )
    cmd.add_argument("-o", dest="out", help="append to this file (default: stdout)")
    cmd.add_argument(
        "--export",
        action="store_true",
        help="also send the records to the policy's [export] sink (OTLP, OpenTelemetry or the JSONL store)",
    )
    cmd.set_defaults(func=_cmd_anonymize)


def _cmd_anonymize(args: argparse.Namespace) -> int:
    from .._ops.anonymize import Anonymizer, run, stop_on_signals
    from .._ops.logformats import log_format
    from .._policy.model import Policy

    policy = Policy.from_toml(args.policy)
    anonymizer = Anonymizer(policy, log_format(args.format), args.output, args.stream)
    # A path that cannot be opened is an OSError: main() names the file and the reason (exit 5).
    in_fd = os.open(args.input, os.O_RDONLY) if args.input else sys.stdin.fileno()
    try:
        out_fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if args.out else sys.stdout.fileno()
    except OSError:
        if args.input:
            os.close(in_fd)
        raise
    sinks = []
    if args.export:  # the sinks' modules are imported only then: a pipe should start fast
        from ..sinks.select import build_sinks

        sinks = build_sinks(anonymizer.pipeline.policy)
    sys.stdout.flush()
    wake_fd, undo = stop_on_signals()
    try:
        counts = run(anonymizer, in_fd, out_fd, sinks=sinks, wake_fd=wake_fd)
    except BrokenPipeError:
        counts = anonymizer.counts
        print("privlog anonymize: the output was closed", file=sys.stderr)
    finally:
        undo()
        if args.input:
            os.close(in_fd)
        if args.out:
            os.close(out_fd)
    print(f"privlog anonymize: {counts.summary()}", file=sys.stderr)
    return 0
