"""``privlog hold add|list|release``: legal holds on a data subject's records."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from .._errors import UsageError


def _day(text: str) -> date:
    """``--until``'s value; argparse names the option and this message on anything else."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day: give it as YYYY-MM-DD") from None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``privlog hold``."""
    hold = sub.add_parser(
        "hold",
        help="legal holds: keep one person's records past their retention, for a stated reason",
        description="Place, list and release legal holds. A held subject's records are kept by every "
        "sweep and by `privlog subject --delete` until the hold ends; the hold log keeps only "
        "pseudonyms, who placed the hold, why and until when.",
    )
    act = hold.add_subparsers(dest="action", required=True)
    add = act.add_parser("add", help="place a hold", description="Place a hold on one subject's records.")
    add.add_argument("--policy", required=True, help="the policy file the records were made with")
    add.add_argument("--user-id", help="the subject's user id, as the app knows it")
    add.add_argument("--ip", help="the subject's IP address")
    add.add_argument("--reason", required=True, help="why the records must be kept (e.g. a dispute's reference)")
    add.add_argument("--until", required=True, type=_day, help="last day of the hold, YYYY-MM-DD")
    add.add_argument("--store", help="the JSONL store (default: the policy's export.directory)")
    add.set_defaults(func=_cmd_add)
    listing = act.add_parser("list", help="list holds", description="List the holds of a store.")
    listing.add_argument("--store", help="the JSONL store (default: ./privlog-logs)")
    listing.add_argument("--all", action="store_true", help="also ended and released holds")
    listing.set_defaults(func=_cmd_list)
    release = act.add_parser("release", help="release a hold", description="Release a hold by its id.")
    release.add_argument("id", help="the hold's id, as `privlog hold list` shows it")
    release.add_argument("--store", help="the JSONL store (default: ./privlog-logs)")
    release.set_defaults(func=_cmd_release)


def _cmd_add(args: argparse.Namespace) -> int:
    from .._ops.holds import place_hold
    from .._policy.model import Policy
    from ..sinks.holdlog import HoldLog

    if not args.user_id and not args.ip:
        raise UsageError("privlog hold add", "no identifier given", "pass --user-id ID and/or --ip ADDRESS")
    if args.until < date.today():
        raise UsageError("--until", f"{args.until} is in the past", "give the last day the records must be kept")
    policy = Policy.from_toml(args.policy)
    log = HoldLog(Path(args.store or policy.export.directory))
    try:
        hold = place_hold(policy, log, reason=args.reason, until=args.until, user_id=args.user_id, ip=args.ip)
    except ValueError as exc:
        print(f"privlog: {exc}", file=sys.stderr)
        return 1
    print(f"placed hold {hold.id} until {hold.until}: {len(hold.pseudonyms) + len(hold.subjects)} pseudonym(s)")
    print(f"logged in {log.path} (owner-only, append-only)")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from ..sinks.holdlog import HoldLog

    today = date.today()
    holds = HoldLog(Path(args.store or "privlog-logs")).holds()
    shown = [h for h in holds if args.all or h.active(today)]
    if not shown:
        print("no active holds" if not args.all else "no holds")
        return 0
    for h in shown:
        state = "active" if h.active(today) else ("released " + h.released if h.released else "ended")
        print(f"{h.id}  until {h.until}  {state}  by {h.placed_by} at {h.placed_at}")
        print(f"    reason: {h.reason}")
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    from .._ops.holds import release_hold
    from ..sinks.holdlog import HoldLog

    log = HoldLog(Path(args.store or "privlog-logs"))
    try:
        hold = release_hold(log, args.id)
    except KeyError:
        print(f"privlog: no hold {args.id!r} in {log.path}", file=sys.stderr)
        return 1
    print(f"released {hold.id}; the next sweep applies the retention again")
    return 0
