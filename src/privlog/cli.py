"""The ``privlog`` command: demo, policy check, retention sweep, secret."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from ._errors import PolicyError
from ._keys import KeyRing
from ._policy import Policy


def describe(policy: Policy) -> str:
    """The compiled policy in plain words: what each stream records and for how long."""
    lines = [f"service: {policy.service}"]
    if policy.secret is not None:
        key_id = KeyRing.from_secret(policy.secret, policy.hash_algorithm).key_id
        lines.append(f"key: {policy.hash_algorithm}, key id {key_id} (from {policy.secret_setting})")
    proxies = ", ".join(str(n) for n in policy.trusted_proxies) or "none (proxy headers are ignored)"
    lines.append(f"trusted proxies: {proxies}")
    lines.append(f"export: {policy.export.sink} (JSONL store: {policy.export.directory})")
    for s in policy.streams:
        r = s.retention
        gate = ", skipped for Sec-GPC/DNT opt-outs" if s.consent_gated else ""
        lines.append(f"\nstream {s.name!r}: {', '.join(sorted(s.events))} records{gate}")
        lines.append(
            f"  retention {r.name!r}: {r.days} days; purpose: {r.purpose}; legal basis: {r.legal_basis}"
        )
        for name, rule in s.fields.items():
            opts = ", ".join(f"{k}={v}" for k, v in rule.options.items())
            lines.append(f"  {name:15} {rule.action}{f' ({opts})' if opts else ''}")
        for header, action in s.headers.items():
            lines.append(f"  header {header}: {action}")
    lines.append("\nanything not listed is never captured.")
    return "\n".join(lines)


def _cmd_check(args: argparse.Namespace) -> int:
    policy = Policy.from_toml(args.file)
    print(f"{args.file}: valid\n")
    print(describe(policy))
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sinks.jsonl import stream_dirs, sweep

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
    from ._demo import run_demo

    return run_demo(Path(args.dir))


def _cmd_secret(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(48))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="privlog", description="Request logs that keep your privacy policy's promises."
    )
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
    retention = sub.add_parser("retention", help="retention of the JSONL store").add_subparsers(
        dest="action", required=True
    )
    sweep = retention.add_parser("sweep", help="delete files past their stream's retention")
    sweep.add_argument("directory")
    sweep.set_defaults(func=_cmd_sweep)
    secret = sub.add_parser("secret", help="print a new random secret for PRIVLOG_SECRET")
    secret.set_defaults(func=_cmd_secret)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except PolicyError as exc:
        print(f"privlog: invalid policy: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
